// A fresh directory for one test, under TMPDIR (std::filesystem::temp_directory_path(), /tmp
// when unset), removed with everything in it at scope exit.
#pragma once
#include <stdlib.h>

#include <doctest/doctest.h>
#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>

namespace genq::test {

struct TempDir {
    std::string path;
    explicit TempDir(const std::string& prefix = "genq-test") : path(make(prefix)) {}
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    // The path of `name` inside the directory.
    std::string file(const std::string& name) const { return path + "/" + name; }
    // Writes `text` to `name` inside the directory; returns its path.
    std::string write(const std::string& name, const std::string& text) const {
        std::string p = file(name);
        std::ofstream(p) << text;
        return p;
    }

    // A new directory named `prefix-XXXXXX` under TMPDIR; the caller removes it.
    static std::string make(const std::string& prefix = "genq-test") {
        std::string tmpl =
            (std::filesystem::temp_directory_path() / (prefix + "-XXXXXX")).string();
        REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
        return tmpl;
    }
};

}  // namespace genq::test
