#pragma once
// Result is part of the public API (include/natpunch/result.hpp).
#include "natpunch/result.hpp"
