// The stand-in's built-in video: a small, valid, playable MP4 written byte by byte (H.264
// constrained baseline in an ISO BMFF file), so results play and pass ffprobe on a machine
// without ffmpeg. See video_maker.hpp for the clips ffmpeg makes from the submitted image.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace fakeapi {

// A two-second clip (10 frames per second, 64x32 pixels): a still picture whose colours come from
// `seed`, coded as one intra frame of raw (I_PCM) macroblocks and skipped frames after it.
std::string builtin_clip(std::uint64_t seed);

// `clip` grown to at least `size` bytes with a trailing `free` box of seeded noise: a player
// ignores it, while sizes and per-generation differences stay what tests ask for.
std::string pad_mp4(std::string clip, std::uint64_t seed, std::size_t size);

}  // namespace fakeapi
