#pragma once

// Remote ADD sources for the local worker: `ADD <url>` downloads over the
// registry's HTTP client, `ADD <git url>` checks out with the host's git.
// The solver reaches both through Worker::FetchUrl / Worker::FetchGit.

#include <memory>
#include <string>

#include "base/error.h"
#include "registry/http.h"
#include "solver/worker.h"
#include "sys/process.h"

namespace kiln::worker {

// Downloads `url` (http or https) into a fresh temp directory as the file
// `filename`, mode 0600, its mtime taken from Last-Modified when the server
// sends one, and its sha256 computed while streaming. Errors name the URL:
// kNotFound "GET URL: HTTP status 404", kNetwork for other statuses and
// for hosts that cannot be reached. Thread-safe when `http` is.
Result<solver::FetchedSource> DownloadUrl(registry::HttpClient& http, const std::string& url,
                                          const std::string& filename);

// Checks out `source` with git: a shallow fetch of `source.ref` (the
// remote's HEAD when empty; a commit id falls back to a full fetch when the
// server refuses to serve it directly) and its submodules, into a fresh
// temp directory, without .git unless `source.keep_git_dir`. Credentials
// in an http(s) URL ("https://user:token@host/repo") reach git only through
// its environment: no git argv, .git/config or other file holds them, and a
// kept .git names the remote with the password redacted (solver::RedactUrl),
// as BuildKit does. kNotFound when the remote has no such ref or git is not
// installed, kAuth when the remote refuses the credentials (or wants some),
// kNetwork when git cannot read the remote otherwise (git's last error line
// is kept), kInvalid for a password in a non-http URL or a malformed one.
// Errors show the URL redacted. Thread-safe.
Result<solver::FetchedSource> CloneGit(sys::ProcessRunner& runner, const solver::GitSource& source);

// The commit `source.ref` names on the remote (`git ls-remote`): the ref
// as given ("HEAD", "refs/..."), else a branch, else a tag (peeled to its
// commit). A full commit id is returned without asking. Credentials are
// passed and errors reported as in CloneGit. kNotFound when nothing
// matches, kAuth or kNetwork when the remote cannot be read. Thread-safe.
Result<std::string> ResolveGitRef(sys::ProcessRunner& runner, const solver::GitSource& source);

// Parses an HTTP date (RFC 7231 IMF-fixdate, "Sun, 06 Nov 1994 08:49:37
// GMT") into seconds since the epoch; nullopt when malformed.
std::optional<int64_t> ParseHttpDate(std::string_view text);

// A Worker that forwards every call to `inner` and serves FetchUrl,
// ResolveGit and FetchGit with DownloadUrl, ResolveGitRef and CloneGit. `inner`, `http` and `runner` must
// outlive it. Thread-safe as `inner` is. (Once LocalWorker overrides
// FetchUrl/FetchGit itself, this wrapper is no longer needed.)
std::unique_ptr<solver::Worker> WithRemoteSources(solver::Worker& inner, registry::HttpClient& http,
                                                  sys::ProcessRunner& runner);

}  // namespace kiln::worker
