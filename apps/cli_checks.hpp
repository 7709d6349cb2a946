#pragma once
// The CLI's shared parsing layer: the validators every command uses for
// addresses and numbers, and the rules main() applies to every option of
// every command. A bad command line ends with one line saying what is
// wrong (exit 2), before anything touches the network.
#include <CLI/CLI.hpp>
#include <cstdint>

namespace natpunch::cli {

// HOST, HOST:PORT, IP:PORT, [IPv6]:PORT or a bare IPv6 literal of a server
// to reach: port 1-65535, a malformed literal refused without DNS
// (core/host_port.hpp). Names are resolved later, by the command.
CLI::Validator server_address(std::uint16_t default_port);
// Comma-separated HOST[:PORT] items, each checked like server_address.
CLI::Validator server_address_list(std::uint16_t default_port);
// "a,b,c" -> {"a", "b", "c"} (an empty item stays, so the check names it).
std::vector<std::string> split_list(const std::string& text);

// IP:PORT to bind (port 0: any free port).
CLI::Validator bind_address();

// CLI11's PositiveNumber / NonNegativeNumber, with a message a user can
// read (theirs prints the range up to the largest double, 300 digits).
CLI::Validator positive_number();
CLI::Validator non_negative_number();

// Limits of the session options that listen/connect and learn
// --rendezvous share (the same natpunch session underneath; they must not
// differ between the commands).
inline constexpr int kMaxWaitSeconds = 86400;           // --wait: a day
inline constexpr int kMinHolePunchMs = 1;               // --hole-punch-ms
inline constexpr int kMaxHolePunchMs = 600000;

// Rules for every option of every subcommand, applied once by main():
// no natpunch option takes a negative number, so "-1" is refused instead
// of wrapping around in an unsigned option (--seed -1 was 2^64 - 1).
void apply_common_checks(CLI::App& app);

}  // namespace natpunch::cli
