#pragma once

// Error values and Result<T>, the one way fallible code in kiln reports
// failure. Only cli/ prints an Error; everything else returns it upward,
// adding context with Wrap() on the way.

#include <fmt/format.h>

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <tl/expected.hpp>

namespace kiln {

// A small closed set, in the spirit of leveldb's Status codes. cli/ maps
// codes to exit statuses; the registry client retries kNetwork only.
enum class ErrorCode {
  kUsage,
  kSyntax,
  kInvalid,
  kNotFound,
  kIo,
  kDigestMismatch,
  kUnsupported,
  kNetwork,
  kAuth,
  kStepFailed,
  kInterrupted,
};

std::string_view ErrorCodeName(ErrorCode code);

// Where in a user's file something happened. `line` and `col` are 1-based;
// 0 means unknown. `line_text` is the whole source line, used to draw the
// excerpt with a caret under `col`.
struct SourceLoc {
  std::string file;
  int line = 0;
  int col = 0;
  std::string line_text;

  bool known() const { return !file.empty(); }
};

// A failure: code, message, optional location, a context chain (outermost
// last), an optional errno and an optional hint for the user.
// Values are cheap to move and safe to pass between threads.
class Error {
 public:
  Error(ErrorCode code, std::string message) : code_(code), message_(std::move(message)) {}
  Error(const Error&) = default;
  Error(Error&&) noexcept = default;
  Error& operator=(const Error&) = default;
  // Safe on itself: `e = std::move(e).WithErrno(n)` keeps `e` whole. The
  // defaulted operator emptied the strings, and the CLI printed a bare
  // "error: " for a failed parallel build.
  Error& operator=(Error&& o) noexcept;

  // Named constructors.
  static Error Usage(std::string msg) { return Error(ErrorCode::kUsage, std::move(msg)); }
  static Error Invalid(std::string msg) { return Error(ErrorCode::kInvalid, std::move(msg)); }
  static Error NotFound(std::string msg) { return Error(ErrorCode::kNotFound, std::move(msg)); }
  static Error Unsupported(std::string msg) { return Error(ErrorCode::kUnsupported, std::move(msg)); }
  static Error Syntax(SourceLoc loc, std::string msg);
  // "open /x/y: No such file or directory" with the errno kept; kNotFound for
  // ENOENT, kIo otherwise.
  static Error Io(std::string_view path, int err, std::string_view op = {});
  // errno-based error for operations that have no path.
  static Error Errno(std::string_view what, int err);

  ErrorCode code() const { return code_; }
  const std::string& message() const { return message_; }
  const std::optional<SourceLoc>& loc() const { return loc_; }
  const std::vector<std::string>& context() const { return context_; }
  int sys_errno() const { return errno_; }
  const std::string& hint() const { return hint_; }

  // Adds a line of context ("pulling \"busybox\""). Returns *this so it can be
  // chained in return statements.
  template <typename... Args>
  Error& Wrap(fmt::format_string<Args...> f, Args&&... args) & {
    context_.push_back(fmt::format(f, std::forward<Args>(args)...));
    return *this;
  }
  template <typename... Args>
  Error&& Wrap(fmt::format_string<Args...> f, Args&&... args) && {
    context_.push_back(fmt::format(f, std::forward<Args>(args)...));
    return std::move(*this);
  }
  Error& WithHint(std::string hint) & { hint_ = std::move(hint); return *this; }
  Error&& WithHint(std::string hint) && { hint_ = std::move(hint); return std::move(*this); }
  Error& At(SourceLoc loc) & { loc_ = std::move(loc); return *this; }
  Error&& At(SourceLoc loc) && { loc_ = std::move(loc); return std::move(*this); }
  Error& WithErrno(int e) & { errno_ = e; return *this; }
  Error&& WithErrno(int e) && { errno_ = e; return std::move(*this); }
  Error&& WithCode(ErrorCode c) && { code_ = c; return std::move(*this); }

  // The full text shown to users:
  //   error: Dockerfile:12:1: unknown instruction "RUNN" (did you mean "RUN"?)
  //    12 | RUNN echo hi
  //       | ^
  //   while: building stage "app"
  //   hint: ...
  // (without the leading "error: ", which cli/ adds).
  std::string Render() const;
  // Just "file:line:col: message" (or "message"), one line.
  std::string Summary() const;

 private:
  ErrorCode code_;
  std::string message_;
  std::optional<SourceLoc> loc_;
  std::vector<std::string> context_;
  int errno_ = 0;
  std::string hint_;
};

template <typename T>
using Result = tl::expected<T, Error>;

// Shorthand for `return tl::unexpected(Error(...))`.
inline tl::unexpected<Error> Fail(Error e) { return tl::unexpected<Error>(std::move(e)); }

// For Result<void> successes.
inline Result<void> Ok() { return {}; }

}  // namespace kiln

// KILN_TRY(expr): evaluate a Result; on error return it from the enclosing
// function (which must return some Result<U>).
#define KILN_TRY(expr)                                        \
  do {                                                        \
    auto&& kiln_try_result_ = (expr);                         \
    if (!kiln_try_result_)                                    \
      return ::tl::unexpected<::kiln::Error>(                 \
          std::move(kiln_try_result_).error());               \
  } while (0)

#define KILN_CONCAT_INNER_(a, b) a##b
#define KILN_CONCAT_(a, b) KILN_CONCAT_INNER_(a, b)

// KILN_TRY_ASSIGN(decl, expr): `auto x` or an existing lvalue; on error
// returns it, else moves the value into `decl`.
#define KILN_TRY_ASSIGN(decl, expr) \
  KILN_TRY_ASSIGN_IMPL_(KILN_CONCAT_(kiln_try_tmp_, __LINE__), decl, expr)
#define KILN_TRY_ASSIGN_IMPL_(tmp, decl, expr)                                  \
  auto tmp = (expr);                                                            \
  if (!tmp) return ::tl::unexpected<::kiln::Error>(std::move(tmp).error());     \
  decl = std::move(*tmp)
