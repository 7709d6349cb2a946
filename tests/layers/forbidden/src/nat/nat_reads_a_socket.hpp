#pragma once
// A file of the NAT model that reaches for the socket layer: two
// violations of the layer arrows that cmake/check_layers.cmake must name
// (tests/layers/CMakeLists.txt). Never compiled.
#include <sys/socket.h>

#include "core/endpoint.hpp"
#include "io/udp_ports.hpp"
