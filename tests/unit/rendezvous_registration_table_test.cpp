// The server's registration table (registration_table.hpp) against a
// plain map doing the same inserts and erases: lookups by (identity,
// instance), by id, per identity and in all agree after every step, ids of
// removed records miss even when their entry is reused, and the identity
// index survives removals in the middle of probe runs.
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <vector>

#include "rendezvous/registration_table.hpp"
#include "rendezvous/small_bytes.hpp"

namespace natpunch::rendezvous {
namespace {

struct Record {
  PublicKey identity{};
  std::uint64_t instance = 0;
  std::uint64_t id = 0;
  int payload = 0;
};

PublicKey key_of(int i) {
  PublicKey k{};
  k[0] = static_cast<std::uint8_t>(i);
  k[1] = static_cast<std::uint8_t>(i >> 8);
  k[31] = 0x5a;
  return k;
}

using Model = std::map<std::pair<PublicKey, std::uint64_t>, int>;

void expect_agrees(RegistrationTable<Record>& table, const Model& model, int identities) {
  ASSERT_EQ(table.size(), model.size());
  std::map<PublicKey, std::size_t> held;
  for (const auto& [slot, payload] : model) {
    ++held[slot.first];
    Record* r = table.find(slot.first, slot.second);
    ASSERT_NE(r, nullptr);
    EXPECT_EQ(r->payload, payload);
    EXPECT_EQ(table.find_by_id(r->id), r);
  }
  EXPECT_EQ(table.identities(), held.size());
  for (int i = 0; i < identities; ++i) {
    std::size_t walked = 0;
    table.for_each_of(key_of(i), [&](Record& r) {
      EXPECT_EQ(r.identity, key_of(i));
      ++walked;
    });
    const std::size_t expected = held.contains(key_of(i)) ? held.at(key_of(i)) : 0;
    EXPECT_EQ(walked, expected);
    EXPECT_EQ(table.count(key_of(i)), expected);
    EXPECT_EQ(table.find_identity(key_of(i)) != nullptr, expected > 0);
  }
  std::size_t all = 0;
  table.for_each([&](Record&) { ++all; });
  EXPECT_EQ(all, model.size());
}

struct Shape {
  const char* name;
  int identities;
  int instances;
  int steps;
};

class RegistrationTableRandom : public ::testing::TestWithParam<Shape> {};

TEST_P(RegistrationTableRandom, AgreesWithAMapAfterEveryStep) {
  const Shape shape = GetParam();
  RegistrationTable<Record> table(12345);
  Model model;
  std::mt19937_64 rng(7);
  std::vector<std::uint64_t> gone_ids;
  std::uint32_t tag = 1;
  for (int step = 0; step < shape.steps; ++step) {
    const int i = static_cast<int>(rng() % static_cast<std::uint64_t>(shape.identities));
    const std::uint64_t instance = rng() % static_cast<std::uint64_t>(shape.instances);
    const auto slot = std::make_pair(key_of(i), instance);
    if (auto it = model.find(slot); it != model.end()) {
      Record* r = table.find(slot.first, slot.second);
      ASSERT_NE(r, nullptr);
      gone_ids.push_back(r->id);
      table.erase(*r);
      model.erase(it);
    } else {
      Record& r = table.insert(slot.first, slot.second, tag++);
      r.payload = step;
      model[slot] = step;
    }
    if (step % 997 == 0) expect_agrees(table, model, shape.identities);
  }
  expect_agrees(table, model, shape.identities);
  // Entries were reused under new tags: an old id finds nothing.
  for (auto id : gone_ids) EXPECT_EQ(table.find_by_id(id), nullptr);
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, RegistrationTableRandom,
    ::testing::Values(Shape{"many_identities_one_instance", 3000, 1, 20000},
                      Shape{"few_identities_many_instances", 12, 16, 5000},
                      Shape{"mixed", 500, 4, 20000}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(RegistrationTable, KeepsAnIdentitysRegistrationsOldestFirst) {
  RegistrationTable<Record> table(1);
  for (std::uint64_t instance : {5, 3, 9}) table.insert(key_of(1), instance, 1).payload = static_cast<int>(instance);
  table.erase(*table.find(key_of(1), 3));
  table.insert(key_of(1), 4, 2);
  std::vector<std::uint64_t> order;
  table.for_each_of(key_of(1), [&](Record& r) { order.push_back(r.instance); });
  EXPECT_EQ(order, (std::vector<std::uint64_t>{5, 9, 4}));
}

TEST(RegistrationTable, IdsNameTheirEntryAndTheirTag) {
  RegistrationTable<Record> table(1);
  Record& a = table.insert(key_of(1), 1, 0xabcd);
  EXPECT_EQ(a.id >> 32, 0xabcdu);
  const std::uint64_t id = a.id;
  EXPECT_EQ(table.find_by_id(id ^ (std::uint64_t{1} << 32)), nullptr);  // right entry, wrong tag
  EXPECT_EQ(table.find_by_id(id + 1000), nullptr);                        // no such entry
  table.erase(a);
  Record& b = table.insert(key_of(2), 1, 0xabce);
  EXPECT_EQ(b.id & 0xffffffffu, id & 0xffffffffu);  // the entry is reused ...
  EXPECT_EQ(table.find_by_id(id), nullptr);         // ... under another id
}

TEST(SmallBytes, KeepsShortBytesInlineAndLongOnesWhole) {
  for (std::size_t n : {0u, 1u, 38u, 39u, 300u}) {
    std::vector<std::uint8_t> bytes(n);
    for (std::size_t i = 0; i < n; ++i) bytes[i] = static_cast<std::uint8_t>(i * 7 + 1);
    SmallBytes<38> s;
    s.assign(std::vector<std::uint8_t>(500, 0xff));  // a long value before: replaced
    s.assign(bytes);
    EXPECT_EQ(std::vector<std::uint8_t>(s.view().begin(), s.view().end()), bytes) << n;
  }
}

}  // namespace
}  // namespace natpunch::rendezvous
