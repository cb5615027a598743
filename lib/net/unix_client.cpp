// Blocking client over the control socket. Each call runs a private io_context until the
// operation completes; beast::basic_stream's deadline bounds it (SO_RCVTIMEO would not: Asio's
// synchronous reads poll again after EAGAIN).
#include "net/unix_client.hpp"

#include <algorithm>
#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <chrono>

namespace genq::net {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using boost::system::error_code;
using UnixProto = asio::local::stream_protocol;
using Stream = beast::basic_stream<UnixProto>;

// SSE pings arrive every 15 s; a read waits at least this long before calling the stream dead.
constexpr double kMinEventReadTimeout = 60;

std::chrono::steady_clock::duration seconds(double s) {
    return std::chrono::duration_cast<std::chrono::steady_clock::duration>(
        std::chrono::duration<double>(s));
}

bool is_unreachable(const error_code& ec) {
    return ec == boost::system::errc::no_such_file_or_directory ||
           ec == boost::system::errc::connection_refused ||
           ec == boost::system::errc::not_a_directory;
}

bool is_closed(const error_code& ec) {
    return ec == http::error::end_of_stream || ec == asio::error::eof ||
           ec == asio::error::connection_reset || ec == asio::error::broken_pipe;
}

http::request<http::string_body> build(const HttpRequest& req) {
    http::request<http::string_body> msg;
    msg.method_string(req.method);
    msg.target(req.target);
    msg.version(11);
    msg.set(http::field::host, "localhost");
    msg.set(http::field::user_agent, "genq/" GENQ_VERSION);
    for (const auto& [name, value] : req.headers) msg.insert(name, value);
    msg.body() = req.body;
    msg.keep_alive(true);
    if (!req.body.empty() || req.method == "POST" || req.method == "PUT") msg.prepare_payload();
    return msg;
}

template <class Fields>
Headers lower_headers(const Fields& fields) {
    Headers out;
    for (const auto& f : fields) {
        std::string name(f.name_string());
        for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        out.emplace_back(std::move(name), std::string(f.value()));
    }
    return out;
}

// Splits a Server-Sent Events byte stream into (event, data) pairs.
class SseParser {
public:
    using Callback = std::function<bool(const std::string&, const std::string&)>;
    // False once the callback asked to stop.
    bool feed(std::string_view bytes, const Callback& cb) {
        for (char c : bytes) {
            if (c != '\n') {
                line_ += c;
                continue;
            }
            bool go = on_line(cb);
            line_.clear();
            if (!go) return false;
        }
        return true;
    }

private:
    bool on_line(const Callback& cb) {
        if (!line_.empty() && line_.back() == '\r') line_.pop_back();
        if (line_.empty()) return dispatch(cb);
        if (line_.front() == ':') return true;  // comment, e.g. ": ping"
        auto colon = line_.find(':');
        std::string field = line_.substr(0, colon);
        std::string value = colon == std::string::npos ? "" : line_.substr(colon + 1);
        if (!value.empty() && value.front() == ' ') value.erase(0, 1);
        if (field == "event") {
            event_ = value;
        } else if (field == "data") {
            if (has_data_) data_ += '\n';
            data_ += value;
            has_data_ = true;
        }
        return true;
    }
    bool dispatch(const Callback& cb) {
        if (!has_data_ && event_.empty()) return true;
        bool go = cb(event_.empty() ? "message" : event_, data_);
        event_.clear();
        data_.clear();
        has_data_ = false;
        return go;
    }
    std::string line_;
    std::string event_;
    std::string data_;
    bool has_data_ = false;
};

}  // namespace

struct UnixHttpClient::Impl {
    std::string path;
    double timeout;
    asio::io_context io;
    std::unique_ptr<Stream> stream;  // the kept-alive connection for request()
    beast::flat_buffer buffer;

    // Starts `op` with a completion handler and runs the private loop until it finished.
    template <class Op>
    error_code run(Op op, std::size_t* bytes = nullptr) {
        error_code result;
        std::size_t n = 0;
        op([&](error_code ec, auto... rest) {
            result = ec;
            ((n = static_cast<std::size_t>(rest)), ...);
        });
        io.restart();
        io.run();
        if (bytes) *bytes = n;
        return result;
    }

    Result<std::unique_ptr<Stream>> connect() {
        auto s = std::make_unique<Stream>(io);
        s->expires_after(seconds(timeout));
        auto ec = run([&](auto h) { s->async_connect(UnixProto::endpoint(path), h); });
        if (ec) {
            std::string msg = "cannot connect to " + path + ": " + ec.message();
            return Error{is_unreachable(ec) ? "unreachable" : "io_error", msg};
        }
        return s;
    }

    // One exchange on `stream`; `silent` tells whether the server sent nothing at all.
    Result<HttpResponse> exchange(const HttpRequest& req, bool& silent) {
        silent = true;
        auto msg = build(req);
        stream->expires_after(seconds(timeout));
        auto wec = run([&](auto h) { http::async_write(*stream, msg, h); });
        // A server that refuses a large body answers and closes while we still write: read on.
        if (wec && !is_closed(wec)) return io_error("write", wec);
        http::response_parser<http::string_body> parser;
        parser.body_limit(boost::none);  // genqctl output may fetch a whole video
        stream->expires_after(seconds(timeout));
        std::size_t n = 0;
        auto rec = run([&](auto h) { http::async_read(*stream, buffer, parser, h); }, &n);
        if (rec) {
            silent = n == 0 && buffer.size() == 0;
            return io_error("read", wec ? wec : rec);
        }
        HttpResponse out;
        out.status = static_cast<int>(parser.get().result_int());
        out.headers = lower_headers(parser.get());
        out.body = std::move(parser.get().body());
        out.body_bytes = out.body.size();
        if (!parser.get().keep_alive()) drop();
        return out;
    }

    Error io_error(const char* what, const error_code& ec) {
        drop();
        std::string why = ec == beast::error::timeout ? "timed out" : ec.message();
        return Error{"io_error", std::string(what) + " on " + path + ": " + why};
    }

    void drop() {
        if (stream) stream->close();
        stream.reset();
        buffer.clear();
    }
};

UnixHttpClient::UnixHttpClient(std::string socket_path, double timeout)
    : impl_(std::make_unique<Impl>()) {
    impl_->path = std::move(socket_path);
    impl_->timeout = timeout;
}

UnixHttpClient::~UnixHttpClient() { impl_->drop(); }

Result<HttpResponse> UnixHttpClient::request(const HttpRequest& req) {
    for (int attempt = 0; attempt < 2; ++attempt) {
        const bool reused = impl_->stream != nullptr;
        if (!reused) {
            auto s = impl_->connect();
            if (!s) return s.error();
            impl_->stream = std::move(s.value());
        }
        bool silent = false;
        auto r = impl_->exchange(req, silent);
        // The daemon closes idle connections; a kept one it closed yields nothing: reconnect.
        if (r || !reused || !silent) return r;
    }
    return Error{"io_error", "unreachable code"};  // the second attempt always returns
}

Status UnixHttpClient::stream_events(
    const std::string& target,
    const std::function<bool(const std::string&, const std::string&)>& on_event) {
    auto& im = *impl_;
    auto connected = im.connect();
    if (!connected) return connected.error();
    Stream& s = *connected.value();
    HttpRequest req;
    req.target = target;
    req.headers.emplace_back("accept", "text/event-stream");
    auto msg = build(req);
    s.expires_after(seconds(im.timeout));
    auto ec = im.run([&](auto h) { http::async_write(s, msg, h); });
    if (ec) return Error{"io_error", "write on " + im.path + ": " + ec.message()};

    beast::flat_buffer buf;
    http::response_parser<http::empty_body> header;
    s.expires_after(seconds(im.timeout));
    ec = im.run([&](auto h) { http::async_read_header(s, buf, header, h); });
    if (ec) return Error{"io_error", "read on " + im.path + ": " + ec.message()};
    if (header.get().result_int() != 200) {
        http::response_parser<http::string_body> rest(std::move(header));
        im.run([&](auto h) { http::async_read(s, buf, rest, h); });
        return Error{"http_" + std::to_string(rest.get().result_int()), rest.get().body()};
    }

    http::response_parser<http::buffer_body> body(std::move(header));
    body.body_limit(boost::none);
    SseParser sse;
    std::array<char, 8192> chunk{};
    const double read_timeout = std::max(im.timeout, kMinEventReadTimeout);
    while (!body.is_done()) {
        body.get().body().data = chunk.data();
        body.get().body().size = chunk.size();
        s.expires_after(seconds(read_timeout));
        ec = im.run([&](auto h) { http::async_read_some(s, buf, body, h); });
        if (ec == http::error::need_buffer) ec = {};
        if (ec) {
            if (is_closed(ec)) break;
            return Error{"io_error", "event stream on " + im.path + ": " + ec.message()};
        }
        std::size_t n = chunk.size() - body.get().body().size;
        if (!sse.feed(std::string_view(chunk.data(), n), on_event)) break;
    }
    s.close();
    return ok_status();
}

}  // namespace genq::net
