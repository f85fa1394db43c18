// Image verbs: images, tag, rmi, inspect, history, load, save, import,
// pull, push, login, logout, prune, system df. Each is a thin layer over
// worker::ImageStore, the store and the image library.

#include "cli/image_commands.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <map>
#include <set>

#include "archive/layer.h"
#include "base/fs.h"
#include "base/strings.h"
#include "cli/env.h"
#include "cli/flags.h"
#include "cli/output.h"
#include "dockerfile/parser.h"
#include "image/codec.h"
#include "image/inspect.h"
#include "image/layout.h"
#include "image/reference.h"
#include "store/blob_sink.h"
#include "worker/local_worker.h"

namespace kiln::cli {

namespace {

const FlagSpec kHelp = {"help", 'h', FlagKind::kBool, "Print usage"};

Result<ParsedFlags> Parse(std::vector<FlagSpec> specs, const std::vector<std::string>& argv, std::string_view command,
                          std::string_view usage, size_t min_args, size_t max_args, bool* help) {
  specs.push_back(kHelp);
  KILN_TRY_ASSIGN(ParsedFlags flags, ParseFlags(specs, argv, command));
  if (flags.Bool("help")) {
    std::fputs(fmt::format("Usage: {} {}\n\nOptions:\n{}", command, usage, FlagHelp(specs)).c_str(), stdout);
    *help = true;
    return flags;
  }
  *help = false;
  size_t n = flags.args().size();
  if (n < min_args || n > max_args) {
    std::string want = min_args == max_args ? fmt::format("exactly {}", min_args)
                       : max_args == SIZE_MAX ? fmt::format("at least {}", min_args)
                                              : fmt::format("{} to {}", min_args, max_args);
    size_t shown = max_args == SIZE_MAX ? min_args : max_args;
    return Fail(Error::Usage(fmt::format("\"{}\" requires {} argument{}", command, want, shown == 1 ? "" : "s"))
                    .WithHint(fmt::format("usage: {} {}", command, usage)));
  }
  return flags;
}

// Copies stdin to a new file at `path`; returns the byte count.
Result<int64_t> CopyStdinToFile(const std::string& path) {
  KILN_TRY_ASSIGN(Fd out, OpenFile(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  int64_t total = 0;
  std::string buf(1 << 20, '\0');
  for (;;) {
    ssize_t n = ::read(0, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return Fail(Error::Io("stdin", errno, "read"));
    }
    if (n == 0) return total;
    KILN_TRY(WriteAll(out.get(), std::string_view(buf.data(), static_cast<size_t>(n)), path));
    total += n;
  }
}

// go-units' HumanSize (4 significant digits), which `docker system df`
// uses; image::HumanSize is the 3-digit form of `docker images`.
std::string HumanSize4(int64_t bytes) {
  static const char* const kUnits[] = {"B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"};
  double size = static_cast<double>(bytes);
  size_t i = 0;
  while (size >= 1000.0 && i + 1 < std::size(kUnits)) {
    size /= 1000.0;
    ++i;
  }
  return fmt::format("{:.4g}{}", size, kUnits[i]);
}

std::string ShortId(const Digest& d) { return d.hex().substr(0, 12); }

// Lays out `table` (header first) as docker's tabwriter does (min cell
// width 10, padding 3); the last column is not padded.
std::string RenderTable(const std::vector<std::vector<std::string>>& table) {
  std::vector<size_t> widths;
  for (const auto& line : table) {
    if (widths.size() < line.size()) widths.resize(line.size(), 0);
    for (size_t i = 0; i < line.size(); ++i) widths[i] = std::max({widths[i], line[i].size() + 3, size_t{10}});
  }
  std::string out;
  for (const auto& line : table) {
    for (size_t i = 0; i < line.size(); ++i) {
      out += line[i];
      if (i + 1 < line.size()) out += std::string(widths[i] - line[i].size(), ' ');
    }
    out += "\n";
  }
  return out;
}

std::vector<std::string> TagsOf(Env& env, const Digest& manifest) {
  std::vector<std::string> out;
  auto tags = env.store->ListTags();
  if (!tags) return out;
  for (const auto& [name, m] : *tags)
    if (m == manifest) out.push_back(name);
  return out;
}

// Uncompressed sizes of an image's layers, from their snapshots where
// unpacked, else the blob sizes.
std::vector<int64_t> LayerSizes(Env& env, const worker::StoredImage& img) {
  std::vector<int64_t> sizes;
  std::optional<Digest> parent;
  for (size_t i = 0; i < img.manifest.layers.size(); ++i) {
    int64_t size = img.manifest.layers[i].size;
    if (i < img.config.rootfs.diff_ids.size()) {
      Digest chain = worker::ChainId(parent, img.config.rootfs.diff_ids[i]);
      if (auto snap = env.store->GetSnapshot(chain)) size = snap->size;
      parent = chain;
    }
    sizes.push_back(size);
  }
  return sizes;
}

Result<void> Images(const GlobalOptions& g, const std::vector<std::string>& argv) {
  bool help;
  KILN_TRY_ASSIGN(ParsedFlags f, Parse({{"quiet", 'q', FlagKind::kBool, "Only show image IDs"},
                                        {"no-trunc", 0, FlagKind::kBool, "Don't truncate output"},
                                        {"digests", 0, FlagKind::kBool, "Show digests"}},
                                       argv, "kiln images", "[OPTIONS] [REPOSITORY[:TAG]]", 0, 1, &help));
  if (help) return Ok();
  KILN_TRY_ASSIGN(auto env, OpenEnv(g));
  KILN_TRY_ASSIGN(auto images, env->store->ListImages());
  int64_t now = std::time(nullptr);
  struct Row {
    std::string repo, tag, id, digest, created, size;
  };
  std::vector<Row> rows;
  std::set<std::string> seen_ids;
  // The optional filter is a name ("busybox", all its tags) or name:tag,
  // normalized like any reference.
  std::optional<image::Reference> filter;
  if (!f.args().empty()) {
    KILN_TRY_ASSIGN(filter, image::Reference::Parse(f.args()[0], image::DefaultTag::kNone));
  }
  for (const auto& img : images) {
    std::string id = f.Bool("no-trunc") ? img.config.str() : ShortId(img.config);
    auto add = [&](std::string repo, std::string tag, const image::Reference* ref) {
      if (filter) {
        if (!ref || ref->Name() != filter->Name()) return;
        if (!filter->tag().empty() && filter->tag() != ref->tag()) return;
      }
      std::string created = img.created > 0 ? image::HumanDuration(now - img.created) + " ago" : "N/A";
      rows.push_back({repo, tag, id, "sha256:" + img.manifest.hex(), created, image::HumanSize(img.size)});
    };
    if (img.tags.empty()) {
      add("<none>", "<none>", nullptr);
      continue;
    }
    for (const auto& t : img.tags) {
      auto ref = image::Reference::Parse(t);
      if (!ref) continue;
      std::string familiar = ref->FamiliarName();
      add(familiar, ref->tag().empty() ? "<none>" : ref->tag(), &*ref);
    }
  }
  if (f.Bool("quiet")) {
    for (const auto& r : rows)
      if (seen_ids.insert(r.id).second) std::printf("%s\n", r.id.c_str());
    return Ok();
  }
  std::vector<std::vector<std::string>> table;
  std::vector<std::string> header = {"REPOSITORY", "TAG"};
  if (f.Bool("digests")) header.push_back("DIGEST");
  for (auto h : {"IMAGE ID", "CREATED", "SIZE"}) header.push_back(h);
  table.push_back(header);
  for (const auto& r : rows) {
    std::vector<std::string> line = {r.repo, r.tag};
    if (f.Bool("digests")) line.push_back(r.digest);
    for (const auto& c : {r.id, r.created, r.size}) line.push_back(c);
    table.push_back(line);
  }
  std::string out = RenderTable(table);
  std::fputs(out.c_str(), stdout);
  return Ok();
}

Result<void> Tag(const GlobalOptions& g, const std::vector<std::string>& argv) {
  bool help;
  KILN_TRY_ASSIGN(ParsedFlags f, Parse({}, argv, "kiln tag", "SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]", 2, 2, &help));
  if (help) return Ok();
  // As docker, the target is checked before the source is looked up.
  KILN_TRY_ASSIGN(image::Reference target, image::Reference::Parse(f.args()[1]));
  if (target.digest())
    return Fail(Error::Invalid(fmt::format("invalid tag {}: a tag cannot contain a digest", Quote(f.args()[1]))));
  KILN_TRY_ASSIGN(auto env, OpenEnv(g));
  KILN_TRY_ASSIGN(worker::StoredImage img, env->images->Find(f.args()[0]));
  return env->store->SetTag(target.String(), img.record.manifest);
}

Result<void> Rmi(const GlobalOptions& g, const std::vector<std::string>& argv) {
  bool help;
  KILN_TRY_ASSIGN(ParsedFlags f, Parse({{"force", 'f', FlagKind::kBool, "Remove every tag of the image"}}, argv,
                                       "kiln rmi", "[OPTIONS] IMAGE [IMAGE...]", 1, SIZE_MAX, &help));
  if (help) return Ok();
  KILN_TRY_ASSIGN(auto env, OpenEnv(g));
  std::string out;
  for (const auto& name : f.args()) {
    KILN_TRY_ASSIGN(worker::StoredImage img, env->images->Find(name));
    std::vector<std::string> tags = TagsOf(*env, img.record.manifest);
    auto ref = image::Reference::Parse(name);
    bool by_tag = ref && std::find(tags.begin(), tags.end(), ref->String()) != tags.end();
    // As docker: a name with other names left only untags, -f or not.
    if (by_tag && tags.size() > 1) {
      KILN_TRY(env->store->RemoveTag(ref->String()));
      out += fmt::format("Untagged: {}\n", ref->FamiliarString());
      continue;
    }
    if (!by_tag && tags.size() > 1 && !f.Bool("force"))
      return Fail(Error::Invalid(fmt::format("conflict: unable to delete {} (must be forced) - image is referenced "
                                             "in multiple repositories", ShortId(img.record.config))));
    for (const auto& t : tags) {
      KILN_TRY(env->store->RemoveTag(t));
      auto r = image::Reference::Parse(t);
      out += fmt::format("Untagged: {}\n", r ? r->FamiliarString() : t);
    }
    KILN_TRY(env->store->RemoveImage(img.record.manifest));
    out += fmt::format("Deleted: {}\n", img.record.config.str());
  }
  std::fputs(out.c_str(), stdout);
  return Ok();
}

Result<void> Inspect(const GlobalOptions& g, const std::vector<std::string>& argv) {
  bool help;
  KILN_TRY_ASSIGN(ParsedFlags f, Parse({}, argv, "kiln inspect", "IMAGE [IMAGE...]", 1, SIZE_MAX, &help));
  if (help) return Ok();
  KILN_TRY_ASSIGN(auto env, OpenEnv(g));
  // As docker: the images found are printed, and each one not found is an
  // error after them.
  std::vector<image::InspectInput> inputs;
  std::optional<Error> missing;
  for (const auto& name : f.args()) {
    auto found = env->images->Find(name);
    if (!found && found.error().code() == ErrorCode::kNotFound) {
      if (!missing) missing = std::move(found).error();
      continue;
    }
    KILN_TRY_ASSIGN(worker::StoredImage img, std::move(found));
    image::InspectInput in;
    in.id = img.record.config;
    in.config = img.config;
    for (const auto& t : TagsOf(*env, img.record.manifest)) {
      KILN_TRY_ASSIGN(image::Reference r, image::Reference::Parse(t));
      in.repo_tags.push_back(r);
      // What a push left in that repository (its own manifest when layers
      // were compressed on the way), else the stored manifest.
      KILN_TRY_ASSIGN(std::optional<Digest> pushed, env->store->GetRepoDigest(img.record.manifest, r.Name()));
      auto with_digest = image::Reference::FromParts(r.domain(), r.path(), "", pushed.value_or(img.record.manifest));
      if (with_digest && std::find(in.repo_digests.begin(), in.repo_digests.end(), *with_digest) ==
                             in.repo_digests.end())
        in.repo_digests.push_back(*with_digest);
    }
    for (int64_t s : LayerSizes(*env, img)) in.size += s;
    inputs.push_back(std::move(in));
  }
  std::fputs(image::RenderInspect(inputs).c_str(), stdout);
  if (missing) return Fail(*std::move(missing));
  return Ok();
}

Result<void> History(const GlobalOptions& g, const std::vector<std::string>& argv) {
  bool help;
  KILN_TRY_ASSIGN(ParsedFlags f, Parse({{"no-trunc", 0, FlagKind::kBool, "Don't truncate output"},
                                        {"human", 'H', FlagKind::kValue, "Print sizes and dates in human readable "
                                                                         "format (default true)"}},
                                       argv, "kiln history", "[OPTIONS] IMAGE", 1, 1, &help));
  if (help) return Ok();
  KILN_TRY_ASSIGN(auto env, OpenEnv(g));
  KILN_TRY_ASSIGN(worker::StoredImage img, env->images->Find(f.args()[0]));
  image::HistoryOptions opt;
  opt.truncate = f.Bool("no-trunc") ? image::Truncate::kNo : image::Truncate::kYes;
  opt.human = f.Value("human", "true") == "false" ? image::Human::kNo : image::Human::kYes;
  opt.now = std::time(nullptr);
  KILN_TRY_ASSIGN(auto rows, image::HistoryRows(img.record.config, img.config, LayerSizes(*env, img), opt));
  std::fputs(image::RenderHistoryTable(rows).c_str(), stdout);
  return Ok();
}

Result<void> Load(const GlobalOptions& g, const std::vector<std::string>& argv) {
  bool help;
  KILN_TRY_ASSIGN(ParsedFlags f, Parse({{"input", 'i', FlagKind::kValue, "Read from an archive file or OCI layout "
                                                                          "directory instead of stdin", "FILE"},
                                        {"quiet", 'q', FlagKind::kBool, "Suppress the load output"}},
                                       argv, "kiln load", "[OPTIONS]", 0, 0, &help));
  if (help) return Ok();
  std::string input = f.Value("input");
  KILN_TRY_ASSIGN(auto env, OpenEnv(g));
  if (input.empty() || input == "-") {
    // Spooled into the session's work area, which the store removes even
    // if this process is killed.
    KILN_TRY_ASSIGN(std::string dir, env->store->CreateWorkDir());
    input = JoinPath(dir, "input.tar");
    KILN_TRY_ASSIGN(int64_t n, CopyStdinToFile(input));
    if (n == 0)
      return Fail(Error::Usage("requested load from stdin, but stdin is empty").WithHint("use kiln load -i FILE"));
  }
  std::string out;
  auto visit = [&](const image::LoadedImage& loaded, image::BlobReader& blobs) -> Result<void> {
    std::vector<std::string> names;
    for (const auto& n : loaded.names) names.push_back(n.String());
    auto report = [&](const Digest& id) {
      if (names.empty()) out += fmt::format("Loaded image ID: {}\n", id.str());
      for (const auto& n : loaded.names) out += fmt::format("Loaded image: {}\n", n.FamiliarString());
    };
    // An image ID is its config digest: like docker, loading an image whose
    // ID is already stored (say, from a docker archive, whose manifest is
    // synthesized) re-tags the stored image instead of adding a second
    // record with the same ID.
    if (!env->store->blobs().Has(loaded.manifest_digest)) {
      KILN_TRY_ASSIGN(auto stored, env->store->ListImages());
      for (const auto& rec : stored) {
        if (rec.config != loaded.manifest.config.digest) continue;
        for (const auto& n : names) KILN_TRY(env->store->SetTag(n, rec.manifest));
        report(rec.config);
        return Ok();
      }
    }
    std::vector<Digest> digests = {loaded.manifest.config.digest};
    for (const auto& l : loaded.manifest.layers) digests.push_back(l.digest);
    for (const auto& d : digests) {
      if (env->store->HasBlob(d)) continue;
      KILN_TRY_ASSIGN(store::BlobWriter w, env->store->blobs().Create());
      KILN_TRY(blobs.ReadBlob(d, [&w](std::string_view chunk) { return w.Write(chunk); }));
      KILN_TRY(w.Commit(d));
    }
    KILN_TRY_ASSIGN(worker::StoredImage img, env->images->Register(loaded.manifest_json, names));
    report(img.record.config);
    return Ok();
  };
  auto r = image::ReadImageArchive(input, visit);
  if (!r) return Fail(std::move(r).error().Wrap("loading {}", f.Value("input", "stdin")));
  if (!f.Bool("quiet")) std::fputs(out.c_str(), stdout);
  return Ok();
}

Result<void> Save(const GlobalOptions& g, const std::vector<std::string>& argv) {
  bool help;
  KILN_TRY_ASSIGN(ParsedFlags f, Parse({{"output", 'o', FlagKind::kValue, "Write to a file, instead of STDOUT", "FILE"},
                                        {"format", 0, FlagKind::kValue, "Archive format: docker (default) or oci",
                                         "FORMAT"}},
                                       argv, "kiln save", "[OPTIONS] IMAGE [IMAGE...]", 1, SIZE_MAX, &help));
  if (help) return Ok();
  std::string format = f.Value("format", "docker");
  if (format != "docker" && format != "oci")
    return Fail(Error::Usage(fmt::format("invalid --format {}: want docker or oci", Quote(format))));
  std::string out = f.Value("output", "-");
  if (out == "-" && ::isatty(1))
    return Fail(Error::Usage("cowardly refusing to save to a terminal. Use the -o flag or redirect"));
  KILN_TRY_ASSIGN(auto env, OpenEnv(g));
  std::vector<worker::StoredImage> images;
  std::vector<std::vector<std::string>> names;
  for (const auto& name : f.args()) {
    KILN_TRY_ASSIGN(worker::StoredImage img, env->images->Find(name));
    // As docker: saved by name, the archive carries that name; saved by
    // ID, no name.
    std::vector<std::string> n;
    auto ref = image::Reference::Parse(name);
    std::vector<std::string> tags = TagsOf(*env, img.record.manifest);
    if (ref && std::find(tags.begin(), tags.end(), ref->String()) != tags.end()) n.push_back(ref->String());
    images.push_back(std::move(img));
    names.push_back(std::move(n));
  }
  return SaveImages(*env, images, names, format == "oci" ? SaveFormat::kOci : SaveFormat::kDocker, out);
}

Result<void> Import(const GlobalOptions& g, const std::vector<std::string>& argv) {
  bool help;
  KILN_TRY_ASSIGN(ParsedFlags f, Parse({{"change", 'c', FlagKind::kRepeated, "Apply Dockerfile instruction to the "
                                                                               "created image", "INSTRUCTION"},
                                        {"message", 'm', FlagKind::kValue, "Set commit message for imported image",
                                         "MESSAGE"}},
                                       argv, "kiln import", "[OPTIONS] file|- [REPOSITORY[:TAG]]", 1, 2, &help));
  if (help) return Ok();
  std::string file = f.args()[0];
  std::optional<image::Reference> name;
  if (f.args().size() > 1) {
    KILN_TRY_ASSIGN(name, image::Reference::Parse(f.args()[1]));
  }

  // The rootfs tarball (plain or compressed) is unpacked safely, then
  // written back as one normalized layer.
  KILN_TRY_ASSIGN(auto env, OpenEnv(g));
  KILN_TRY_ASSIGN(std::string work, env->store->CreateWorkDir());
  std::string rootfs = JoinPath(work, "rootfs");
  KILN_TRY(MakeDirs(rootfs));
  {
    Fd fd;
    int raw = 0;
    if (file != "-") {
      KILN_TRY_ASSIGN(fd, OpenFile(file, O_RDONLY));
      raw = fd.get();
    }
    archive::FdSource source(raw, file);
    archive::ApplyOptions opt;
    opt.whiteout_mode = archive::WhiteoutMode::kApply;
    opt.label = file;
    auto r = archive::ApplyLayer(source, rootfs, opt);
    if (!r) return Fail(std::move(r).error().Wrap("importing {}", file));
  }
  KILN_TRY_ASSIGN(store::BlobWriter writer, env->store->blobs().Create());
  store::BlobSink sink(writer);
  archive::LayerWriteOptions wopt;
  KILN_TRY_ASSIGN(archive::LayerInfo info, archive::WriteLayerFromDir(rootfs, sink, wopt));
  KILN_TRY_ASSIGN(Digest blob, writer.Commit(info.digest, info.size));

  solver::ImageState state;
  state.config.architecture = "amd64";
  state.config.os = "linux";
  std::time_t t = std::time(nullptr);
  char created[32];
  std::strftime(created, sizeof created, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  state.config.created = created;
  image::History h;
  h.created = created;
  h.comment = f.Value("message", fmt::format("Imported from {}", file));
  state.config.history.push_back(h);
  for (const auto& change : f.All("change")) {
    // A --change is one Dockerfile instruction applied to the config.
    KILN_TRY_ASSIGN(dockerfile::Dockerfile df, dockerfile::Parse("FROM scratch\n" + change + "\n", "--change"));
    for (const auto& ins : df.stages[0].instructions) {
      auto& c = state.config.config;
      switch (ins.kind) {
        case dockerfile::Kind::kCmd:
        case dockerfile::Kind::kEntrypoint: {
          const auto& cmd = ins.kind == dockerfile::Kind::kCmd ? ins.As<dockerfile::CmdArgs>().command
                                                               : ins.As<dockerfile::EntrypointArgs>().command;
          std::vector<std::string> v = cmd.args;
          if (cmd.form == dockerfile::Command::Form::kShell) v = {"/bin/sh", "-c", cmd.args.empty() ? "" : cmd.args[0]};
          (ins.kind == dockerfile::Kind::kCmd ? c.cmd : c.entrypoint) = v;
          break;
        }
        case dockerfile::Kind::kEnv:
          for (const auto& kv : ins.As<dockerfile::KeyValueArgs>().pairs) c.env.push_back(kv.key + "=" + kv.value);
          break;
        case dockerfile::Kind::kWorkdir: c.working_dir = ins.As<dockerfile::WorkdirArgs>().path; break;
        case dockerfile::Kind::kUser: c.user = ins.As<dockerfile::UserArgs>().user; break;
        case dockerfile::Kind::kLabel:
          for (const auto& kv : ins.As<dockerfile::KeyValueArgs>().pairs) c.labels[kv.key] = kv.value;
          break;
        case dockerfile::Kind::kExpose:
          for (auto p : ins.As<dockerfile::ExposeArgs>().ports)
            c.exposed_ports.push_back(p.find('/') == std::string::npos ? p + "/tcp" : p);
          break;
        default:
          return Fail(Error::Usage(fmt::format("--change {}: {} is not supported here", Quote(change),
                                               dockerfile::KindName(ins.kind))));
      }
    }
  }
  solver::LayerRef layer;
  layer.diff_id = info.diff_id;
  layer.chain_id = info.diff_id;
  layer.blob = blob;
  layer.blob_size = info.size;
  layer.media_type = std::string(image::kOciLayerGzip);
  state.layers.push_back(layer);
  std::vector<std::string> tags;
  if (name) tags.push_back(name->String());
  KILN_TRY_ASSIGN(worker::StoredImage img, env->images->Commit(state, tags));
  std::printf("%s\n", img.record.config.str().c_str());
  return Ok();
}

Result<void> Pull(const GlobalOptions& g, const std::vector<std::string>& argv) {
  bool help;
  KILN_TRY_ASSIGN(ParsedFlags f, Parse({{"quiet", 'q', FlagKind::kBool, "Suppress verbose output"},
                                        {"platform", 0, FlagKind::kValue, "Platform (the host's only)", "PLATFORM"}},
                                       argv, "kiln pull", "[OPTIONS] NAME[:TAG|@DIGEST]", 1, 1, &help));
  if (help) return Ok();
  KILN_TRY_ASSIGN(image::Reference ref, image::Reference::Parse(f.args()[0]));
  KILN_TRY_ASSIGN(auto env, OpenEnv(g));
  // PullImage's errors already say "while pulling <ref>".
  KILN_TRY_ASSIGN(worker::StoredImage img, worker::PullImage(*env->images, *env->registry, ref));
  if (f.Bool("quiet")) {
    std::printf("%s\n", ref.String().c_str());
  } else {
    std::printf("Digest: %s\nStatus: Downloaded image for %s\n%s\n", img.record.manifest.str().c_str(),
                ref.FamiliarString().c_str(), ref.String().c_str());
  }
  return Ok();
}

Result<void> Push(const GlobalOptions& g, const std::vector<std::string>& argv) {
  bool help;
  KILN_TRY_ASSIGN(ParsedFlags f, Parse({{"quiet", 'q', FlagKind::kBool, "Suppress verbose output"}}, argv, "kiln push",
                                       "[OPTIONS] NAME[:TAG]", 1, 1, &help));
  if (help) return Ok();
  KILN_TRY_ASSIGN(image::Reference ref, image::Reference::Parse(f.args()[0]));
  KILN_TRY_ASSIGN(auto env, OpenEnv(g));
  KILN_TRY_ASSIGN(worker::StoredImage img, env->images->Find(f.args()[0]));
  KILN_TRY_ASSIGN(PushResult pushed, PushStored(*env, img, ref.String(), ProgressMode::kQuiet));
  std::printf("%s: digest: %s size: %zu\n", ref.tag().empty() ? "latest" : ref.tag().c_str(),
              pushed.digest.str().c_str(), pushed.size);
  return Ok();
}

Result<void> Login(const GlobalOptions& g, const std::vector<std::string>& argv) {
  bool help;
  KILN_TRY_ASSIGN(ParsedFlags f, Parse({{"username", 'u', FlagKind::kValue, "Username", "USER"},
                                        {"password", 'p', FlagKind::kValue, "Password", "PASSWORD"},
                                        {"password-stdin", 0, FlagKind::kBool, "Take the password from stdin"}},
                                       argv, "kiln login", "[OPTIONS] [SERVER]", 0, 1, &help));
  if (help) return Ok();
  std::string server = f.args().empty() ? "docker.io" : f.args()[0];
  registry::Credentials creds;
  creds.username = f.Value("username");
  creds.password = f.Value("password");
  if (f.Bool("password-stdin")) {
    std::string pw;
    std::getline(std::cin, pw);
    creds.password = std::string(TrimSpace(pw));
  }
  if (creds.username.empty() || creds.password.empty())
    return Fail(Error::Usage("username and password are required").WithHint("kiln login -u USER --password-stdin SERVER"));
  KILN_TRY_ASSIGN(auto env, OpenEnv(g));
  KILN_TRY(registry::Login(*env->registry, *env->creds, server, creds));
  std::puts("Login Succeeded");
  return Ok();
}

Result<void> Logout(const GlobalOptions& g, const std::vector<std::string>& argv) {
  bool help;
  KILN_TRY_ASSIGN(ParsedFlags f, Parse({}, argv, "kiln logout", "[SERVER]", 0, 1, &help));
  if (help) return Ok();
  std::string server = f.args().empty() ? "docker.io" : f.args()[0];
  auto helpers = registry::NewExecCredentialHelperRunner();
  registry::CredentialStore creds(registry::CredentialStore::DefaultConfigDir(), *helpers);
  KILN_TRY_ASSIGN(bool removed, creds.Erase(server));
  if (removed) std::printf("Removing login credentials for %s\n", server.c_str());
  else std::printf("Not logged in to %s\n", server.c_str());
  return Ok();
}

Result<void> Prune(const GlobalOptions& g, const std::vector<std::string>& argv) {
  bool help;
  KILN_TRY_ASSIGN(ParsedFlags f, Parse({{"all", 'a', FlagKind::kBool, "Remove all images, build cache and cache "
                                                                         "mounts, not just dangling ones"},
                                        {"force", 'f', FlagKind::kBool, "Do not prompt for confirmation"}},
                                       argv, "kiln prune", "[OPTIONS]", 0, 0, &help));
  if (help) return Ok();
  KILN_TRY_ASSIGN(auto env, OpenEnv(g));
  store::PruneOptions opt;
  if (f.Bool("all")) {
    opt.images = store::PruneImages::kAll;
    opt.cache_mounts = true;
  }
  // Images are reported by ID (config digest) as docker does; the report
  // names manifests, so remember which config each one had.
  std::map<Digest, Digest> ids;
  if (auto before = env->store->ListImages())
    for (const auto& img : *before) ids[img.manifest] = img.config;
  KILN_TRY_ASSIGN(store::PruneReport report, env->store->Prune(opt));
  std::string out;
  if (!report.images.empty()) {
    out += "Deleted Images:\n";
    for (const auto& t : report.tags) {
      auto r = image::Reference::Parse(t);
      out += "untagged: " + (r ? r->FamiliarString() : t) + "\n";
    }
    for (const auto& d : report.images) out += "deleted: " + (ids.count(d) ? ids[d] : d).str() + "\n";
    out += "\n";
  }
  if (!report.cache_entries.empty()) out += fmt::format("Deleted build cache objects: {}\n", report.cache_entries.size());
  out += fmt::format("Total reclaimed space: {}\n", image::HumanSize(report.reclaimed));
  std::fputs(out.c_str(), stdout);
  return Ok();
}

Result<void> System(const GlobalOptions& g, const std::vector<std::string>& argv) {
  if (argv.empty() || argv[0] != "df")
    return Fail(Error::Usage("usage: kiln system df").WithHint("'kiln system' has one subcommand: df"));
  bool help;
  KILN_TRY_ASSIGN(ParsedFlags f, Parse({}, std::vector<std::string>(argv.begin() + 1, argv.end()), "kiln system df", "",
                                       0, 0, &help));
  if (help) return Ok();
  KILN_TRY_ASSIGN(auto env, OpenEnv(g));
  KILN_TRY_ASSIGN(store::DiskUsage du, env->store->GetDiskUsage());
  auto row = [](const char* type, const store::UsageRow& r) -> std::vector<std::string> {
    int pct = r.size > 0 ? static_cast<int>(100 * r.reclaimable / r.size) : 0;
    return {type, std::to_string(r.count), HumanSize4(r.size), fmt::format("{} ({}%)", HumanSize4(r.reclaimable), pct)};
  };
  std::string out = RenderTable({{"TYPE", "TOTAL", "SIZE", "RECLAIMABLE"},
                                 row("Images", du.images),
                                 row("Layers", du.snapshots),
                                 row("Build Cache", du.build_cache),
                                 row("Cache Mounts", du.cache_mounts)});
  std::fputs(out.c_str(), stdout);
  return Ok();
}

}  // namespace

Result<std::string> ReadAllStdinBytes() {
  std::string data;
  char buf[1 << 16];
  for (;;) {
    ssize_t n = ::read(0, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Fail(Error::Io("stdin", errno, "read"));
    }
    if (n == 0) return data;
    data.append(buf, n);
  }
}

std::vector<Command> ImageCommands() {
  return {
      {"images", "List images", Images},
      {"tag", "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE", Tag},
      {"rmi", "Remove one or more images", Rmi},
      {"inspect", "Display detailed information on one or more images", Inspect},
      {"history", "Show the history of an image", History},
      {"load", "Load an image from a tar archive or an OCI layout", Load},
      {"save", "Save one or more images to a tar archive", Save},
      {"import", "Import the contents from a tarball to create a filesystem image", Import},
      {"pull", "Download an image from a registry", Pull},
      {"push", "Upload an image to a registry", Push},
      {"login", "Log in to a registry", Login},
      {"logout", "Log out from a registry", Logout},
      {"prune", "Remove unused images, build cache and layers", Prune},
      {"system", "Manage kiln (system df)", System},
  };
}

}  // namespace kiln::cli
