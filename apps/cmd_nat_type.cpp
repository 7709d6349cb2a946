// placeholder until discovery lands
#include "commands.hpp"
namespace natpunch::cli {
void add_nat_type_command(CLI::App&, int&) {}
}
