// ffmpeg children of the stand-in: spawned with posix_spawn, never waited for on the event loop.
#include "video_maker.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

extern char** environ;

namespace fakeapi {
namespace {

namespace fs = std::filesystem;

constexpr std::size_t kMaxRunning = 2;  // the machines that run the tests have few cores
constexpr std::size_t kMaxCached = 64;
constexpr auto kEncodeBound = std::chrono::seconds(30);  // then the built-in clip stands in
constexpr int kFrames = 48;                              // two seconds at 24 frames per second

bool on_path(const std::string& name) {
    const char* path = std::getenv("PATH");
    std::string_view rest = path != nullptr ? path : "/usr/bin:/bin";
    while (!rest.empty()) {
        const auto colon = rest.find(':');
        const std::string dir(rest.substr(0, colon));
        if (!dir.empty() && ::access((dir + "/" + name).c_str(), X_OK) == 0) {
            return true;
        }
        rest = colon == std::string_view::npos ? std::string_view{} : rest.substr(colon + 1);
    }
    return false;
}

// Half the input size (even numbers, as yuv420p needs): small enough to encode in well under a
// second, and zoompan then samples the full-size input with sub-pixel steps, so the zoom is smooth.
std::string output_size(std::uint32_t width, std::uint32_t height) {
    const auto half = [](std::uint32_t v) { return std::max<std::uint32_t>(32, v / 2 & ~1U); };
    return std::to_string(half(width)) + "x" + std::to_string(half(height));
}

std::string zoom_filter(std::uint32_t width, std::uint32_t height) {
    return "zoompan=z='1+0.3*on/" + std::to_string(kFrames - 1) +
           "':x='iw/2-iw/zoom/2':y='ih/2-ih/zoom/2':d=" + std::to_string(kFrames) +
           ":s=" + output_size(width, height) + ":fps=24,format=yuv420p";
}

bool write_file(const std::string& path, std::string_view data) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(data.data(), static_cast<std::streamsize>(data.size()));
    return static_cast<bool>(out.flush());
}

std::optional<std::string> read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        return std::nullopt;
    }
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

}  // namespace

VideoMaker::VideoMaker(bool zoom) {
    if (!zoom) {
        return;
    }
    if (!on_path("ffmpeg")) {
        std::fprintf(stderr, "genq-fakeapi: --videos zoom: no ffmpeg on PATH, videos are the "
                             "built-in clip (apt-get install ffmpeg)\n");
        return;
    }
    std::string tmpl = (fs::temp_directory_path() / "genq-fakeapi-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) {
        std::fprintf(stderr, "genq-fakeapi: cannot create a work directory for ffmpeg: %s\n",
                     std::strerror(errno));
        return;
    }
    dir_ = tmpl;
    enabled_ = true;
}

VideoMaker::~VideoMaker() {
    for (auto& [sha, e] : encodes_) {
        if (e.state == State::running) {
            ::kill(e.pid, SIGKILL);
            ::waitpid(e.pid, nullptr, 0);
        }
    }
    if (!dir_.empty()) {
        std::error_code ec;
        fs::remove_all(dir_, ec);
    }
}

std::string VideoMaker::path_of(const std::string& sha, std::string_view ext) const {
    return dir_ + "/" + sha + std::string(ext);
}

void VideoMaker::start(const std::string& sha, std::string_view image, std::uint32_t width,
                       std::uint32_t height) {
    if (!enabled_ || encodes_.count(sha) != 0) {
        return;
    }
    if (!write_file(path_of(sha, ".img"), image)) {
        return;
    }
    Encode e;
    e.width = width;
    e.height = height;
    encodes_.emplace(sha, std::move(e));
    order_.push_back(sha);
    evict();
    pump();
}

bool VideoMaker::pending(const std::string& sha) {
    pump();
    const auto it = encodes_.find(sha);
    return it != encodes_.end() &&
           (it->second.state == State::queued || it->second.state == State::running);
}

std::optional<std::string> VideoMaker::clip(const std::string& sha) {
    pump();
    const auto it = encodes_.find(sha);
    if (it == encodes_.end() || it->second.state != State::done) {
        return std::nullopt;
    }
    return it->second.bytes;
}

// Collects finished children, kills those past the bound, and starts queued encodes.
void VideoMaker::pump() {
    std::size_t running = 0;
    for (auto& [sha, e] : encodes_) {
        if (e.state == State::running) {
            collect(sha, e);
        }
        running += e.state == State::running ? 1 : 0;
    }
    for (const auto& sha : order_) {
        if (running >= kMaxRunning) {
            break;
        }
        auto& e = encodes_.at(sha);
        if (e.state == State::queued) {
            launch(sha, e);
            running += e.state == State::running ? 1 : 0;
        }
    }
}

void VideoMaker::collect(const std::string& sha, Encode& e) {
    int status = 0;
    const pid_t r = ::waitpid(e.pid, &status, WNOHANG);
    if (r == 0) {
        if (std::chrono::steady_clock::now() - e.started < kEncodeBound) {
            return;
        }
        std::fprintf(stderr, "genq-fakeapi: ffmpeg for %s took too long; built-in clip\n",
                     sha.c_str());
        ::kill(e.pid, SIGKILL);
        ::waitpid(e.pid, nullptr, 0);
        e.state = State::failed;
        return;
    }
    auto bytes = r == e.pid && WIFEXITED(status) && WEXITSTATUS(status) == 0
                     ? read_file(path_of(sha, ".mp4"))
                     : std::nullopt;
    if (bytes && !bytes->empty()) {
        e.bytes = std::move(*bytes);
        e.state = State::done;
    } else {
        // Expected for the header-only test images; the log says why for anything else.
        e.state = State::failed;
    }
    std::error_code ec;
    fs::remove(path_of(sha, ".img"), ec);
    fs::remove(path_of(sha, ".mp4"), ec);
}

void VideoMaker::launch(const std::string& sha, Encode& e) {
    const std::string in = path_of(sha, ".img");
    const std::string out = path_of(sha, ".mp4");
    const std::string log = path_of(sha, ".log");
    const std::string filter = zoom_filter(e.width, e.height);
    const std::string frames = std::to_string(kFrames);
    // Niced and single-threaded: the stand-in's own thread keeps its core and answers on time.
    std::vector<std::string> args = {"nice", "-n", "10", "ffmpeg", "-nostdin", "-v", "error",
                                     "-y", "-filter_threads", "1", "-i", in, "-vf", filter,
                                     "-frames:v", frames, "-c:v", "libx264", "-threads", "1",
                                     "-preset", "veryfast", "-crf", "26", "-movflags",
                                     "+faststart", out};
    std::vector<char*> argv;
    for (auto& a : args) {
        argv.push_back(a.data());
    }
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    // Sockets of the stand-in must not outlive it in the child: a client would not see a close.
    posix_spawn_file_actions_addclosefrom_np(&actions, 3);
    pid_t pid = -1;
    const int rc = posix_spawnp(&pid, "nice", &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) {
        std::fprintf(stderr, "genq-fakeapi: cannot start ffmpeg: %s\n", std::strerror(rc));
        e.state = State::failed;
        return;
    }
    e.pid = pid;
    e.started = std::chrono::steady_clock::now();
    e.state = State::running;
}

// Forgets the oldest finished clips beyond the cache size (running encodes stay).
void VideoMaker::evict() {
    for (auto it = order_.begin(); encodes_.size() > kMaxCached && it != order_.end();) {
        auto& e = encodes_.at(*it);
        if (e.state == State::done || e.state == State::failed) {
            encodes_.erase(*it);
            it = order_.erase(it);
        } else {
            ++it;
        }
    }
}

}  // namespace fakeapi
