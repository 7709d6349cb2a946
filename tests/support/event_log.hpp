#pragma once
// Picking one kind of event out of a machine's log (a vector of its event
// variant), for the test harnesses that record every event a machine
// reported.
#include <optional>
#include <variant>
#include <vector>

namespace natpunch::test_support {

template <class T, class Event>
std::vector<T> all_events(const std::vector<Event>& events) {
  std::vector<T> out;
  for (const auto& e : events)
    if (const auto* t = std::get_if<T>(&e)) out.push_back(*t);
  return out;
}

template <class T, class Event>
std::optional<T> last_event(const std::vector<Event>& events) {
  for (auto it = events.rbegin(); it != events.rend(); ++it)
    if (const auto* t = std::get_if<T>(&*it)) return *t;
  return std::nullopt;
}

}  // namespace natpunch::test_support
