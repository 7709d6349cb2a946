#pragma once
// Each subcommand registers itself on the root CLI11 app; the callback sets
// the process exit code.
#include <CLI/CLI.hpp>

#include "cli_checks.hpp"

namespace natpunch::cli {

// Exit codes shared by every subcommand (documented in --help and README).
inline constexpr int kExitOk = 0;
inline constexpr int kExitNoAnswer = 1;  // network problem: no response, send failure
inline constexpr int kExitUsage = 2;     // bad command line, unresolvable name, bad address
inline constexpr int kExitInterrupted = 130;  // SIGINT/SIGTERM (the shell's convention): report so far printed

void add_stun_server_command(CLI::App& app, int& exit_code);
void add_stun_command(CLI::App& app, int& exit_code);
void add_nat_type_command(CLI::App& app, int& exit_code);
void add_birthday_command(CLI::App& app, int& exit_code);
void add_simulate_command(CLI::App& app, int& exit_code);
void add_analyze_command(CLI::App& app, int& exit_code);
void add_natd_command(CLI::App& app, int& exit_code);
void add_measure_server_command(CLI::App& app, int& exit_code);
void add_measure_command(CLI::App& app, int& exit_code);
void add_rendezvous_command(CLI::App& app, int& exit_code);
void add_connect_commands(CLI::App& app, int& exit_code);  // listen, connect, keygen
void add_learn_command(CLI::App& app, int& exit_code);
void add_predict_command(CLI::App& app, int& exit_code);
void add_turn_command(CLI::App& app, int& exit_code);  // turn allocate, turn credentials

}  // namespace natpunch::cli
