// Demo videos made from the submitted image: a two-second slow zoom encoded by Debian's ffmpeg in
// a child process. The stand-in is single-threaded and times what clients do, so an encode never
// blocks it: it starts at submit time, runs beside the event loop and is collected (waitpid
// WNOHANG) when a poll asks for the result. Clips are cached per input sha256.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace fakeapi {

class VideoMaker {
public:
    // `zoom` false, or no ffmpeg on PATH: nothing is encoded and clip() is always empty.
    explicit VideoMaker(bool zoom);
    ~VideoMaker();
    VideoMaker(const VideoMaker&) = delete;
    VideoMaker& operator=(const VideoMaker&) = delete;

    // Queues an encode of `image` (width x height pixels) unless one for `sha` exists.
    void start(const std::string& sha, std::string_view image, std::uint32_t width,
               std::uint32_t height);
    // True while the encode for `sha` is queued or running (and inside its time bound).
    bool pending(const std::string& sha);
    // The finished clip; empty when there is none (not asked, failed, timed out, disabled).
    std::optional<std::string> clip(const std::string& sha);

private:
    enum class State { queued, running, done, failed };
    struct Encode {
        State state = State::queued;
        pid_t pid = -1;
        std::chrono::steady_clock::time_point started;
        std::uint32_t width = 0;
        std::uint32_t height = 0;
        std::string bytes;
    };

    void pump();
    void collect(const std::string& sha, Encode& e);
    void launch(const std::string& sha, Encode& e);
    void evict();
    std::string path_of(const std::string& sha, std::string_view ext) const;

    bool enabled_ = false;
    std::string dir_;  // private work directory, removed at exit
    std::map<std::string, Encode> encodes_;
    std::deque<std::string> order_;  // sha256s, oldest first, for queueing and eviction
};

}  // namespace fakeapi
