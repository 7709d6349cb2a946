#pragma once
#include <cstdint>
#include <vector>

#include "stun/message.hpp"

namespace natpunch::stun {

// An encoded Binding request, optionally with CHANGE-REQUEST, always with
// FINGERPRINT (it lets both ends tell STUN from other traffic on a shared
// port and makes a hairpinned copy of our own request verifiable). Without a
// change no CHANGE-REQUEST is sent at all: some RFC 3489 servers mishandle
// one with both flags clear.
std::vector<std::uint8_t> make_binding_request(const TransactionId& id, bool change_ip = false,
                                               bool change_port = false);

}  // namespace natpunch::stun
