// A marker for failures that mean "a service this node depends on cannot be reached right now"
// (a shared store's database down or restarting): the control API answers them 503, the
// engine waits and tries again, instead of treating them as bugs. Exceptions carry it as a
// second base, beside their own std::runtime_error.
#pragma once

namespace genq {

class Unavailable {
public:
    virtual ~Unavailable() = default;
};

}  // namespace genq
