#pragma once

// Errors from input, the environment and libraries are values. Result<T>
// holds either a T or an Error; Status is Result<void>.

#include <fmt/format.h>

#include <cassert>
#include <optional>
#include <string>
#include <utility>

namespace vigil {

class Error {
public:
  explicit Error(std::string message) : message_(std::move(message)) {}
  const std::string& message() const { return message_; }

  // Prefixes context: Error("bad x").wrap("config.yaml:3") -> "config.yaml:3: bad x".
  Error wrap(std::string_view context) const { return Error(fmt::format("{}: {}", context, message_)); }

private:
  std::string message_;
};

template <class... Args> Error makeError(fmt::format_string<Args...> format, Args&&... args) {
  return Error(fmt::format(format, std::forward<Args>(args)...));
}

template <class T> class [[nodiscard]] Result {
public:
  Result(T value) : value_(std::move(value)) {}
  Result(Error error) : error_(std::move(error)) {}

  bool ok() const { return value_.has_value(); }
  explicit operator bool() const { return ok(); }

  T& value() & {
    assert(ok());
    return *value_;
  }
  const T& value() const& {
    assert(ok());
    return *value_;
  }
  T&& value() && {
    assert(ok());
    return std::move(*value_);
  }
  T& operator*() & { return value(); }
  T&& operator*() && { return std::move(*value_); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const {
    assert(!ok());
    return *error_;
  }

private:
  std::optional<T> value_;
  std::optional<Error> error_;
};

template <> class [[nodiscard]] Result<void> {
public:
  Result() = default;
  Result(Error error) : error_(std::move(error)) {}

  bool ok() const { return !error_.has_value(); }
  explicit operator bool() const { return ok(); }
  const Error& error() const {
    assert(!ok());
    return *error_;
  }

private:
  std::optional<Error> error_;
};

using Status = Result<void>;

inline Status okStatus() { return {}; }

} // namespace vigil
