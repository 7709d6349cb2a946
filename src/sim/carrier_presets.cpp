#include "sim/carrier_presets.hpp"

namespace natpunch::sim {
namespace {

using M = nat::MappingBehavior;
using F = nat::FilteringBehavior;

// Vodafone NL's allocator as the real logs show it (profiles/vodafone-nl.json,
// derived by scripts/derive_carrier_profiles.sh; Table II's Beta alone does
// not fit them): 32-port windows at offset 31, any port of the window, a
// stay of 61 s, windows placed by a Beta law.
nat::WindowSpec vodafone_windows() {
  nat::WindowSpec w;
  w.placement = nat::BetaSpec{6.891556231628252, 4.270112919028854, 1.0001853244806027, 17943.96619317053};
  w.size = 32;
  w.offset = 31;
  w.order = nat::WindowOrder::Random;
  w.hold = milliseconds(61004);
  w.mappings.reset();
  return w;
}

nat::NatConfig make(M mapping, F filtering, nat::AllocatorSpec allocator, Duration pending, Duration established,
                    std::optional<std::size_t> max_payload) {
  nat::NatConfig c;
  c.mapping = mapping;
  c.filtering = filtering;
  c.allocator = allocator;
  c.pending_timeout = pending;
  c.established_timeout = established;
  c.max_payload = max_payload;
  return c;
}

}  // namespace

std::vector<std::string> carrier_preset_names() { return {"odido", "lebara", "lycamobile", "vodafone", "kpn"}; }

std::optional<CarrierModel> carrier_preset(std::string_view name) {
  // "Restrict NAT" in Table III is read as restricted cone (EIM + ADF),
  // "Symmetric" as address-and-port-dependent mapping and filtering.
  if (name == "kpn")
    return CarrierModel{"kpn", "KPN",
                        make(M::AddressAndPortDependent, F::AddressAndPortDependent, nat::BlockSpec{256}, seconds(120),
                             seconds(239), 1445),
                        false, "type Table III (symmetric), allocator Table II, timeouts Table IV, MTU Table V", std::nullopt};
  if (name == "lebara")
    return CarrierModel{"lebara", "Lebara",
                        make(M::EndpointIndependent, F::AddressDependent, nat::BlockSpec{256}, seconds(120),
                             seconds(240), 65507),
                        false, "type Table III (restricted), allocator Table II, timeouts Table IV, MTU Table V", std::nullopt};
  if (name == "lycamobile")
    return CarrierModel{"lycamobile", "LycaMobile",
                        make(M::EndpointIndependent, F::EndpointIndependent, nat::UniformSpec{2048, 65535},
                             seconds(120), seconds(120), 1473),
                        false, "type Table III (full cone), allocator Table II, timeouts Table IV, MTU Table V", std::nullopt};
  if (name == "vodafone")
    return CarrierModel{"vodafone", "VodaFone",
                        make(M::EndpointIndependent, F::AddressDependent, vodafone_windows(), seconds(302), seconds(299),
                             1437),
                        false,
                        "type Table III (restricted), allocator derived from the real logs (Table II's Beta does not "
                        "fit them), timeouts Table IV, MTU Table V",
                        std::nullopt};
  if (name == "odido")
    return CarrierModel{"odido", "Odido",
                        make(M::AddressAndPortDependent, F::AddressAndPortDependent, nat::RandomFullySpec{},
                             seconds(120), seconds(120), std::nullopt),
                        true, "not measured in the thesis: assumed symmetric, random-fully, RFC 4787 timeouts", std::nullopt};
  return std::nullopt;
}

}  // namespace natpunch::sim
