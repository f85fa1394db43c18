#pragma once

// Test helpers for tests that make or read tar streams (never used outside
// tests).

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "archive/tar.h"
#include "base/fs.h"

namespace kiln::archive::testing {

// One member for MakeTar: the header plus data for files.
struct Member {
  TarEntry entry;
  std::string data;
};

inline TarEntry File(std::string path, std::string_view data, uint32_t mode = 0644) {
  TarEntry e;
  e.path = std::move(path);
  e.type = TarType::kFile;
  e.mode = mode;
  e.size = static_cast<int64_t>(data.size());
  e.mtime = 1700000000;
  return e;
}

inline TarEntry Dir(std::string path, uint32_t mode = 0755) {
  TarEntry e;
  e.path = std::move(path);
  e.type = TarType::kDirectory;
  e.mode = mode;
  e.mtime = 1700000000;
  return e;
}

inline TarEntry Link(std::string path, TarType type, std::string target) {
  TarEntry e;
  e.path = std::move(path);
  e.type = type;
  e.mode = 0777;
  e.link_target = std::move(target);
  e.mtime = 1700000000;
  return e;
}

// A tar stream holding `members`, written by TarWriter.
inline std::string MakeTar(const std::vector<Member>& members) {
  std::string out;
  StringSink sink(out);
  TarWriter w(sink);
  for (const auto& m : members) {
    auto r = w.WriteHeader(m.entry);
    EXPECT_TRUE(r) << r.error().Render();
    if (!m.data.empty()) {
      auto d = w.WriteData(m.data);
      EXPECT_TRUE(d) << d.error().Render();
    }
  }
  auto f = w.Finish();
  EXPECT_TRUE(f) << f.error().Render();
  return out;
}

// Reads every member of `tar`; file data is returned alongside.
inline Result<std::vector<Member>> ReadTar(std::string_view tar) {
  StringSource src(tar);
  TarReader r(src, "test");
  std::vector<Member> out;
  while (true) {
    KILN_TRY_ASSIGN(std::optional<TarEntry> e, r.Next());
    if (!e) return out;
    Member m{*e, ""};
    char buf[4096];
    while (true) {
      KILN_TRY_ASSIGN(size_t n, r.ReadData(std::span<char>(buf, sizeof buf)));
      if (n == 0) break;
      m.data.append(buf, n);
    }
    out.push_back(std::move(m));
  }
}

// The regular files of a tar stream, path -> content; a bad stream fails
// the test.
inline std::map<std::string, std::string> TarFiles(std::string_view tar) {
  std::map<std::string, std::string> files;
  auto members = ReadTar(tar);
  EXPECT_TRUE(members) << members.error().Render();
  if (!members) return files;
  for (auto& m : *members)
    if (m.entry.type == TarType::kFile) files[m.entry.path] = std::move(m.data);
  return files;
}

inline void Check(int rc, const char* what) { ASSERT_EQ(rc, 0) << what << ": " << strerror(errno); }

inline void Write(const std::string& path, std::string_view data, mode_t mode = 0644) {
  auto r = WriteFile(path, data, mode);
  ASSERT_TRUE(r) << r.error().Render();
  Check(::chmod(path.c_str(), mode), "chmod");
}

inline void SetTime(const std::string& path, int64_t t) {
  struct timespec ts[2] = {{t, 0}, {t, 0}};
  Check(::utimensat(AT_FDCWD, path.c_str(), ts, AT_SYMLINK_NOFOLLOW), "utimensat");
}

// One line per path below `root` (sorted): type, mode, owner, mtime,
// size/target/device, xattrs, content, and a hard-link group id.
inline std::string Snapshot(const std::string& root, bool with_dir_mtime = true) {
  std::vector<std::string> lines;
  std::map<std::pair<dev_t, ino_t>, std::string> inodes;
  std::vector<std::string> stack{""};
  while (!stack.empty()) {
    std::string rel = stack.back();
    stack.pop_back();
    std::string dir = rel.empty() ? root : root + "/" + rel;
    DIR* d = ::opendir(dir.c_str());
    if (!d) return "opendir failed: " + dir;
    while (struct dirent* de = ::readdir(d)) {
      std::string n = de->d_name;
      if (n == "." || n == "..") continue;
      std::string crel = rel.empty() ? n : rel + "/" + n;
      std::string path = root + "/" + crel;
      struct stat st;
      ::lstat(path.c_str(), &st);
      std::string line = fmt::format("{} {:o} {}:{}", crel, st.st_mode, st.st_uid, st.st_gid);
      if (!S_ISDIR(st.st_mode) || with_dir_mtime) line += fmt::format(" t={}", st.st_mtim.tv_sec);
      if (S_ISREG(st.st_mode)) {
        line += " data=" + ReadFile(path).value_or("?");
        if (st.st_nlink > 1) {
          auto [it, ins] = inodes.try_emplace({st.st_dev, st.st_ino}, crel);
          if (crel < it->second) it->second = crel;
          line += fmt::format(" inode#{}:{}#", st.st_dev, st.st_ino);
        }
      } else if (S_ISLNK(st.st_mode)) {
        char buf[4096];
        ssize_t k = ::readlink(path.c_str(), buf, sizeof buf);
        line += " -> " + std::string(buf, k > 0 ? k : 0);
      } else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
        line += fmt::format(" dev={}:{}", major(st.st_rdev), minor(st.st_rdev));
      } else if (S_ISDIR(st.st_mode)) {
        stack.push_back(crel);
      }
      char names[4096];
      ssize_t k = ::llistxattr(path.c_str(), names, sizeof names);
      std::vector<std::string> xs;
      for (ssize_t i = 0; i < k;) {
        std::string name(names + i);
        i += name.size() + 1;
        char val[4096];
        ssize_t vn = ::lgetxattr(path.c_str(), name.c_str(), val, sizeof val);
        xs.push_back(name + "=" + std::string(val, vn > 0 ? vn : 0));
      }
      std::sort(xs.begin(), xs.end());
      for (auto& x : xs) line += " x:" + x;
      lines.push_back(line);
    }
    ::closedir(d);
  }
  for (auto& l : lines) {
    for (auto& [key, first] : inodes) {
      std::string token = fmt::format(" inode#{}:{}#", key.first, key.second);
      size_t at = l.find(token);
      if (at != std::string::npos) l.replace(at, token.size(), " link=" + first);
    }
  }
  std::sort(lines.begin(), lines.end());
  std::string out;
  for (auto& l : lines) out += l + "\n";
  return out;
}

}  // namespace kiln::archive::testing
