#include "core/logging.hpp"

#include <sys/stat.h>

#include <cstdlib>
#include <memory>

#include <nlohmann/json.hpp>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace genq {
namespace {

// %N: the syslog priority journald reads from a "<N>" line prefix.
class PriorityFlag : public spdlog::custom_flag_formatter {
public:
    void format(const spdlog::details::log_msg& msg, const std::tm&,
                spdlog::memory_buf_t& dest) override {
        static constexpr char prio[] = {'7', '7', '6', '4', '3', '2', '6'};  // trace..critical, off
        dest.push_back(prio[static_cast<int>(msg.level)]);
    }
    std::unique_ptr<custom_flag_formatter> clone() const override {
        return std::make_unique<PriorityFlag>();
    }
};

// %J: the message as a JSON string body (escaped, without the quotes).
class JsonMessageFlag : public spdlog::custom_flag_formatter {
public:
    void format(const spdlog::details::log_msg& msg, const std::tm&,
                spdlog::memory_buf_t& dest) override {
        std::string s = nlohmann::json(std::string(msg.payload.data(), msg.payload.size()))
                            .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
        dest.append(s.data() + 1, s.data() + s.size() - 1);
    }
    std::unique_ptr<custom_flag_formatter> clone() const override {
        return std::make_unique<JsonMessageFlag>();
    }
};

}  // namespace

bool under_journald() {
    const char* js = std::getenv("JOURNAL_STREAM");
    if (!js) return false;
    unsigned long dev = 0, ino = 0;
    if (std::sscanf(js, "%lu:%lu", &dev, &ino) != 2) return false;
    struct stat st {};
    return ::fstat(2, &st) == 0 && st.st_dev == dev && st.st_ino == ino;
}

void set_log_level(const std::string& level) { spdlog::set_level(spdlog::level::from_str(level)); }

void setup_logging(const std::string& level, const std::string& format, bool journald) {
    auto logger = std::make_shared<spdlog::logger>(
        "genq", std::make_shared<spdlog::sinks::stderr_sink_mt>());
    auto formatter = std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::utc);
    formatter->add_flag<PriorityFlag>('N').add_flag<JsonMessageFlag>('J');
    if (format == "json")
        formatter->set_pattern(R"({"ts":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%l","msg":"%J"})");
    else if (journald)
        formatter->set_pattern("<%N>%v");
    else
        formatter->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %-5l %v");
    logger->set_formatter(std::move(formatter));
    logger->flush_on(spdlog::level::trace);
    spdlog::set_default_logger(logger);
    set_log_level(level);
}

}  // namespace genq
