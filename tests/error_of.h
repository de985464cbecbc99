// The one error helper of the tests:
//   error_of<E>(fn)                    the message of the E that fn throws, for exact checks;
//   expect_error<E>(fn, "part")        fn throws an E whose message contains "part";
//   expect_error<E>(fn, {"a", "b"})    ... contains every one of the parts.
// Throwing nothing or another exception type is a test failure of its own.
#pragma once
#include <gtest/gtest.h>

#include <exception>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

namespace dagrad::testing {

namespace detail {
// The message of the E that fn throws; nullopt (after a recorded failure) otherwise.
template <class E, class Fn>
std::optional<std::string> message_of(Fn&& fn) {
  try {
    fn();
  } catch (const E& e) {
    return std::string(e.what());
  } catch (const std::exception& e) {
    ADD_FAILURE() << "wrong exception type: " << e.what();
    return std::nullopt;
  }
  ADD_FAILURE() << "no exception thrown";
  return std::nullopt;
}
}  // namespace detail

template <class E, class Fn>
std::string error_of(Fn&& fn) {
  return detail::message_of<E>(fn).value_or("no exception of the expected type");
}

template <class E, class Fn>
void expect_error(Fn&& fn, std::initializer_list<std::string_view> parts) {
  const std::optional<std::string> message = detail::message_of<E>(fn);
  if (!message) return;
  for (std::string_view part : parts)
    EXPECT_NE(message->find(part), std::string::npos) << "message: " << *message << "\nmissing: " << part;
}

template <class E, class Fn>
void expect_error(Fn&& fn, std::string_view part) {
  expect_error<E>(fn, {part});
}

}  // namespace dagrad::testing
