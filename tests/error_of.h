// error_of<E>(fn): the message of the E that fn throws, for tests that check exact error
// messages. Throwing nothing or another exception type is a test failure of its own.
#pragma once
#include <gtest/gtest.h>

#include <exception>
#include <string>

namespace dagrad::testing {

template <class E, class Fn>
std::string error_of(Fn&& fn) {
  try {
    fn();
  } catch (const E& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "wrong exception type: " << e.what();
    return std::string("wrong exception type: ") + e.what();
  }
  ADD_FAILURE() << "no exception thrown";
  return "no exception";
}

}  // namespace dagrad::testing
