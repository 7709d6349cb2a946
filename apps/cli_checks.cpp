#include "cli_checks.hpp"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "core/host_port.hpp"

namespace natpunch::cli {

namespace {

// The whole text is a number (as strtod reads it).
bool parse_number(const std::string& text, double& value) {
  if (text.empty()) return false;
  char* end = nullptr;
  errno = 0;
  value = std::strtod(text.c_str(), &end);
  return end == text.c_str() + text.size();
}

bool is_negative_number(const std::string& text) {
  double value = 0;
  const auto first = text.find_first_not_of(" \t");
  return first != std::string::npos && text[first] == '-' && parse_number(text, value);
}

}  // namespace

CLI::Validator server_address(std::uint16_t default_port) {
  return CLI::Validator(
      [default_port](std::string& text) {
        auto parsed = parse_host_port(text, default_port);
        return parsed ? std::string() : parsed.error();
      },
      "HOST[:PORT]");
}

CLI::Validator server_address_list(std::uint16_t default_port) {
  return CLI::Validator(
      [default_port](std::string& text) {
        for (const auto& item : split_list(text)) {
          auto parsed = parse_host_port(item, default_port);
          if (!parsed) return "'" + item + "': " + parsed.error();
        }
        return std::string();
      },
      "HOST[:PORT][,HOST[:PORT]...]");
}

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (;;) {
    const auto comma = text.find(',', start);
    out.push_back(text.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (comma == std::string::npos) return out;
    start = comma + 1;
  }
}

CLI::Validator bind_address() {
  return CLI::Validator(
      [](std::string& text) {
        auto parsed = parse_bind_endpoint(text);
        return parsed ? std::string() : parsed.error();
      },
      "IP:PORT");
}

CLI::Validator positive_number() {
  return CLI::Validator(
      [](std::string& text) {
        double value = 0;
        if (!parse_number(text, value)) return "'" + text + "' is not a number";
        if (!(value > 0)) return "must be more than 0, not " + text;
        return std::string();
      },
      "POSITIVE");
}

CLI::Validator non_negative_number() {
  return CLI::Validator(
      [](std::string& text) {
        double value = 0;
        if (!parse_number(text, value)) return "'" + text + "' is not a number";
        if (!(value >= 0)) return "must be 0 or more, not " + text;
        return std::string();
      },
      "NONNEGATIVE");
}

void apply_common_checks(CLI::App& app) {
  // CLI11 reads "-1" into an unsigned option as 2^64 - 1 (strtoull):
  // options without a range took it silently.
  const CLI::Validator not_negative(
      [](std::string& text) {
        return is_negative_number(text) ? "must not be negative (" + text + "): no natpunch option takes a negative number"
                                        : std::string();
      },
      "");
  for (CLI::Option* option : app.get_options()) {
    if (option->get_expected_max() == 0) continue;  // a flag
    option->check(not_negative);
  }
  for (CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) apply_common_checks(*sub);
}

}  // namespace natpunch::cli
