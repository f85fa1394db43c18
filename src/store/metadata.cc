// Store: images, tags, layers, build cache and leases (kiln.db tables).

#include <algorithm>
#include <cctype>

#include "archive/layer.h"
#include "store/blob_sink.h"
#include "store/sqlite_internal.h"
#include "store/store.h"
#include "store/store_internal.h"

namespace kiln::store {

using internal::Stmt;
using internal::Tx;

namespace {

Result<Digest> ParseColumn(const Stmt& q, int col) {
  auto d = Digest::Parse(q.Text(col));
  if (!d) return Fail(std::move(d).error().Wrap("reading kiln.db"));
  return d;
}

bool IsHexPrefix(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

constexpr std::string_view kImageColumns = "manifest, config, media_type, created, size";

Result<ImageRecord> ReadImage(const Stmt& q) {
  ImageRecord img;
  KILN_TRY_ASSIGN(img.manifest, ParseColumn(q, 0));
  KILN_TRY_ASSIGN(img.config, ParseColumn(q, 1));
  img.media_type = q.Text(2);
  img.created = q.Int(3);
  img.size = q.Int(4);
  return img;
}

Result<std::vector<std::string>> TagsOf(internal::Db& db, const Digest& manifest) {
  KILN_TRY_ASSIGN(Stmt q, db.Prepare("SELECT name FROM tags WHERE manifest = ?1 ORDER BY name"));
  q.Bind(1, manifest.str());
  std::vector<std::string> tags;
  for (;;) {
    KILN_TRY_ASSIGN(bool row, q.Step());
    if (!row) return tags;
    tags.push_back(q.Text(0));
  }
}

Result<std::vector<Ref>> ReadRefs(internal::Db& db, std::string_view owner_kind,
                                  std::string_view owner) {
  KILN_TRY_ASSIGN(Stmt q, db.Prepare("SELECT kind, target FROM refs WHERE owner_kind = ?1 AND "
                                     "owner = ?2 ORDER BY kind, target"));
  q.Bind(1, owner_kind).Bind(2, owner);
  std::vector<Ref> refs;
  for (;;) {
    KILN_TRY_ASSIGN(bool row, q.Step());
    if (!row) return refs;
    KILN_TRY_ASSIGN(RefKind kind, internal::ParseRefKind(q.Text(0)));
    KILN_TRY_ASSIGN(Digest target, ParseColumn(q, 1));
    refs.push_back(Ref{kind, std::move(target)});
  }
}

}  // namespace

Result<void> Store::CheckBlobsExist(const std::vector<Ref>& refs) {
  for (const Ref& ref : refs) {
    if (ref.kind != RefKind::kBlob || blobs_->Has(ref.target)) continue;
    KILN_TRY_ASSIGN(std::optional<LayerRecord> layer, SnapshotLayer(ref.target));
    if (!layer) return Fail(Error::NotFound(fmt::format("blob {} not found", ref.target.str())));
  }
  return Ok();
}

bool Store::HasBlob(const Digest& digest) {
  if (blobs_->Has(digest)) return true;
  auto layer = SnapshotLayer(digest);
  return layer && layer->has_value();
}

Result<BlobReader> Store::OpenBlob(const Digest& digest) {
  auto reader = blobs_->Open(digest);
  if (reader || reader.error().code() != ErrorCode::kNotFound) return reader;
  KILN_TRY_ASSIGN(std::optional<LayerRecord> layer, SnapshotLayer(digest));
  if (!layer) return reader;
  // Another build may be writing the same blob: the second waits here and
  // then finds the file.
  KILN_TRY_ASSIGN(FileLock lock, LockKey("blob/" + digest.hex()));
  if (!blobs_->Has(digest)) KILN_TRY(WriteBlobFromSnapshot(*layer));
  return blobs_->Open(digest);
}

Result<void> Store::WriteBlobFromSnapshot(const LayerRecord& layer) {
  auto write = [&]() -> Result<void> {
    KILN_TRY_ASSIGN(BlobWriter writer, blobs_->Create());
    BlobSink sink(writer);
    archive::LayerWriteOptions plain;  // as LayerRecord::snapshot promises
    plain.compression.compression = archive::Compression::kNone;
    KILN_TRY(archive::WriteLayerFromUpperDir(SnapshotDir(*layer.snapshot), sink, plain));
    KILN_TRY(writer.Commit(layer.blob, layer.size));
    return Ok();
  };
  if (auto r = write(); !r)
    return Fail(std::move(r).error().Wrap("writing layer {} from snapshot {}", layer.blob.str(),
                                          layer.snapshot->str()));
  return Ok();
}

Result<void> Store::PutImage(const ImageRecord& image, const std::vector<Ref>& refs) {
  std::vector<Ref> all = refs;
  Ref self{RefKind::kBlob, image.manifest};
  if (std::find(all.begin(), all.end(), self) == all.end()) all.push_back(self);
  KILN_TRY(CheckBlobsExist(all));
  std::lock_guard<std::mutex> lock(db_mu_);
  KILN_TRY_ASSIGN(Tx tx, Tx::Begin(*db_));
  KILN_TRY_ASSIGN(Stmt ins, db_->Prepare(
      "INSERT INTO images(manifest, config, media_type, created, size) VALUES (?1, ?2, ?3, ?4, ?5) "
      "ON CONFLICT(manifest) DO UPDATE SET config = ?2, media_type = ?3, created = ?4, size = ?5"));
  KILN_TRY(ins.Bind(1, image.manifest.str()).Bind(2, image.config.str()).Bind(3, image.media_type)
               .Bind(4, image.created).Bind(5, image.size).Run());
  KILN_TRY(internal::ReplaceRefs(*db_, "image", image.manifest.str(), all));
  return tx.Commit();
}

Result<ImageRecord> Store::GetImage(const Digest& manifest) {
  std::lock_guard<std::mutex> lock(db_mu_);
  KILN_TRY_ASSIGN(Stmt q, db_->Prepare(fmt::format("SELECT {} FROM images WHERE manifest = ?1",
                                                   kImageColumns)));
  KILN_TRY_ASSIGN(bool row, q.Bind(1, manifest.str()).Step());
  if (!row) return Fail(Error::NotFound(fmt::format("image {} not found", manifest.str())));
  KILN_TRY_ASSIGN(ImageRecord img, ReadImage(q));
  KILN_TRY_ASSIGN(img.tags, TagsOf(*db_, img.manifest));
  return img;
}

Result<std::vector<ImageRecord>> Store::ListImages() {
  std::lock_guard<std::mutex> lock(db_mu_);
  KILN_TRY_ASSIGN(Stmt q, db_->Prepare(fmt::format(
      "SELECT {} FROM images ORDER BY created DESC, manifest", kImageColumns)));
  std::vector<ImageRecord> out;
  for (;;) {
    KILN_TRY_ASSIGN(bool row, q.Step());
    if (!row) break;
    KILN_TRY_ASSIGN(ImageRecord img, ReadImage(q));
    out.push_back(std::move(img));
  }
  for (auto& img : out) {
    KILN_TRY_ASSIGN(img.tags, TagsOf(*db_, img.manifest));
  }
  return out;
}

Result<std::vector<Ref>> Store::ImageRefs(const Digest& manifest) {
  std::lock_guard<std::mutex> lock(db_mu_);
  return ReadRefs(*db_, "image", manifest.str());
}

Result<ImageRecord> Store::ResolveImage(std::string_view name_or_id) {
  std::optional<Digest> found;
  {
    std::lock_guard<std::mutex> lock(db_mu_);
    KILN_TRY_ASSIGN(Stmt tag, db_->Prepare("SELECT manifest FROM tags WHERE name = ?1"));
    KILN_TRY_ASSIGN(bool row, tag.Bind(1, name_or_id).Step());
    if (row) {
      KILN_TRY_ASSIGN(found, ParseColumn(tag, 0));
    } else {
      std::string_view hex = name_or_id;
      if (hex.starts_with("sha256:")) hex.remove_prefix(7);
      if (IsHexPrefix(hex)) {
        // A prefix of the image ID (config digest) or of the manifest digest.
        // Note '_' and '%' cannot occur in hex, so LIKE is an exact prefix test.
        KILN_TRY_ASSIGN(Stmt q, db_->Prepare(
            "SELECT manifest FROM images WHERE config LIKE ?1 OR manifest LIKE ?1 ORDER BY manifest"));
        q.Bind(1, fmt::format("sha256:{}%", hex));
        std::vector<std::string> matches;
        for (;;) {
          KILN_TRY_ASSIGN(bool more, q.Step());
          if (!more) break;
          matches.push_back(q.Text(0));
        }
        if (matches.size() > 1)
          return Fail(Error::Invalid(fmt::format("ambiguous image ID \"{}\": matches {} images",
                                                 name_or_id, matches.size())));
        if (matches.size() == 1) {
          KILN_TRY_ASSIGN(found, Digest::Parse(matches[0]));
        }
      }
    }
  }
  if (!found) return Fail(Error::NotFound(fmt::format("no such image: \"{}\"", name_or_id)));
  return GetImage(*found);
}

Result<void> Store::RemoveImage(const Digest& manifest) {
  std::lock_guard<std::mutex> lock(db_mu_);
  KILN_TRY_ASSIGN(Tx tx, Tx::Begin(*db_));
  KILN_TRY_ASSIGN(Stmt del, db_->Prepare("DELETE FROM images WHERE manifest = ?1"));
  KILN_TRY(del.Bind(1, manifest.str()).Run());
  if (db_->Changes() == 0)
    return Fail(Error::NotFound(fmt::format("image {} not found", manifest.str())));
  KILN_TRY(internal::DeleteRefs(*db_, "image", manifest.str()));  // tags go by ON DELETE CASCADE
  return tx.Commit();
}

Result<void> Store::SetRepoDigest(const Digest& manifest, std::string_view repository, const Digest& digest) {
  std::lock_guard<std::mutex> lock(db_mu_);
  KILN_TRY_ASSIGN(Stmt q, db_->Prepare("SELECT 1 FROM images WHERE manifest = ?1"));
  KILN_TRY_ASSIGN(bool found, q.Bind(1, manifest.str()).Step());
  if (!found) return Fail(Error::NotFound(fmt::format("image {} not found", manifest.str())));
  KILN_TRY_ASSIGN(Stmt ins, db_->Prepare("INSERT OR REPLACE INTO repo_digests(manifest, repository, digest) "
                                         "VALUES (?1, ?2, ?3)"));
  return ins.Bind(1, manifest.str()).Bind(2, repository).Bind(3, digest.str()).Run();
}

Result<std::optional<Digest>> Store::GetRepoDigest(const Digest& manifest, std::string_view repository) {
  std::lock_guard<std::mutex> lock(db_mu_);
  KILN_TRY_ASSIGN(Stmt q, db_->Prepare("SELECT digest FROM repo_digests WHERE manifest = ?1 AND repository = ?2"));
  KILN_TRY_ASSIGN(bool row, q.Bind(1, manifest.str()).Bind(2, repository).Step());
  if (!row) return std::optional<Digest>();
  KILN_TRY_ASSIGN(Digest d, Digest::Parse(q.Text(0)));
  return std::optional<Digest>(std::move(d));
}

Result<void> Store::SetTag(std::string_view name, const Digest& manifest) {
  if (name.empty()) return Fail(Error::Invalid("empty tag name"));
  std::lock_guard<std::mutex> lock(db_mu_);
  KILN_TRY_ASSIGN(Tx tx, Tx::Begin(*db_));
  KILN_TRY_ASSIGN(Stmt q, db_->Prepare("SELECT 1 FROM images WHERE manifest = ?1"));
  KILN_TRY_ASSIGN(bool exists, q.Bind(1, manifest.str()).Step());
  if (!exists) return Fail(Error::NotFound(fmt::format("image {} not found", manifest.str())));
  KILN_TRY_ASSIGN(Stmt ins, db_->Prepare(
      "INSERT INTO tags(name, manifest) VALUES (?1, ?2) ON CONFLICT(name) DO UPDATE SET manifest = ?2"));
  KILN_TRY(ins.Bind(1, name).Bind(2, manifest.str()).Run());
  return tx.Commit();
}

Result<Digest> Store::ResolveTag(std::string_view name) {
  std::lock_guard<std::mutex> lock(db_mu_);
  KILN_TRY_ASSIGN(Stmt q, db_->Prepare("SELECT manifest FROM tags WHERE name = ?1"));
  KILN_TRY_ASSIGN(bool row, q.Bind(1, name).Step());
  if (!row) return Fail(Error::NotFound(fmt::format("tag \"{}\" not found", name)));
  return ParseColumn(q, 0);
}

Result<void> Store::RemoveTag(std::string_view name) {
  std::lock_guard<std::mutex> lock(db_mu_);
  KILN_TRY_ASSIGN(Stmt del, db_->Prepare("DELETE FROM tags WHERE name = ?1"));
  KILN_TRY(del.Bind(1, name).Run());
  if (db_->Changes() == 0) return Fail(Error::NotFound(fmt::format("tag \"{}\" not found", name)));
  return Ok();
}

Result<std::vector<std::pair<std::string, Digest>>> Store::ListTags() {
  std::lock_guard<std::mutex> lock(db_mu_);
  KILN_TRY_ASSIGN(Stmt q, db_->Prepare("SELECT name, manifest FROM tags ORDER BY name"));
  std::vector<std::pair<std::string, Digest>> out;
  for (;;) {
    KILN_TRY_ASSIGN(bool row, q.Step());
    if (!row) return out;
    KILN_TRY_ASSIGN(Digest d, ParseColumn(q, 1));
    out.emplace_back(q.Text(0), std::move(d));
  }
}

Result<void> Store::PutLayer(const LayerRecord& layer) {
  if (layer.snapshot) {
    KILN_TRY(GetSnapshot(*layer.snapshot));
  } else {
    KILN_TRY(CheckBlobsExist({Ref{RefKind::kBlob, layer.blob}}));
  }
  std::lock_guard<std::mutex> lock(db_mu_);
  // A record without a snapshot (an image registering its layers) keeps
  // the one already recorded: the blob file may not exist yet.
  KILN_TRY_ASSIGN(Stmt ins, db_->Prepare(
      "INSERT INTO layers(blob, diff_id, media_type, size, snapshot) VALUES (?1, ?2, ?3, ?4, ?5) "
      "ON CONFLICT(blob) DO UPDATE SET diff_id = ?2, media_type = ?3, size = ?4, "
      "snapshot = IFNULL(?5, snapshot)"));
  ins.Bind(1, layer.blob.str()).Bind(2, layer.diff_id.str()).Bind(3, layer.media_type).Bind(4, layer.size);
  if (layer.snapshot) ins.Bind(5, layer.snapshot->str());
  else ins.BindNull(5);
  return ins.Run();
}

namespace {

constexpr std::string_view kLayerColumns = "blob, diff_id, media_type, size, snapshot";

Result<LayerRecord> ReadLayer(const Stmt& q) {
  LayerRecord l;
  KILN_TRY_ASSIGN(l.blob, ParseColumn(q, 0));
  KILN_TRY_ASSIGN(l.diff_id, ParseColumn(q, 1));
  l.media_type = q.Text(2);
  l.size = q.Int(3);
  if (!q.IsNull(4)) {
    KILN_TRY_ASSIGN(l.snapshot, ParseColumn(q, 4));
  }
  return l;
}

}  // namespace

Result<LayerRecord> Store::GetLayer(const Digest& blob) {
  std::lock_guard<std::mutex> lock(db_mu_);
  KILN_TRY_ASSIGN(Stmt q, db_->Prepare(fmt::format("SELECT {} FROM layers WHERE blob = ?1", kLayerColumns)));
  KILN_TRY_ASSIGN(bool row, q.Bind(1, blob.str()).Step());
  if (!row) return Fail(Error::NotFound(fmt::format("layer {} not found", blob.str())));
  return ReadLayer(q);
}

Result<std::optional<LayerRecord>> Store::SnapshotLayer(const Digest& blob) {
  std::lock_guard<std::mutex> lock(db_mu_);
  KILN_TRY_ASSIGN(Stmt q, db_->Prepare(
      "SELECT l.blob, l.diff_id, l.media_type, l.size, l.snapshot FROM layers l JOIN snapshots s "
      "ON s.chain_id = l.snapshot WHERE l.blob = ?1 AND s.state = 'ready'"));
  KILN_TRY_ASSIGN(bool row, q.Bind(1, blob.str()).Step());
  if (!row) return std::optional<LayerRecord>();
  KILN_TRY_ASSIGN(LayerRecord l, ReadLayer(q));
  return std::optional<LayerRecord>(std::move(l));
}

Result<std::vector<LayerRecord>> Store::FindLayersByDiffId(const Digest& diff_id) {
  std::lock_guard<std::mutex> lock(db_mu_);
  KILN_TRY_ASSIGN(Stmt q, db_->Prepare(fmt::format(
      "SELECT {} FROM layers WHERE diff_id = ?1 ORDER BY blob", kLayerColumns)));
  q.Bind(1, diff_id.str());
  std::vector<LayerRecord> out;
  for (;;) {
    KILN_TRY_ASSIGN(bool row, q.Step());
    if (!row) return out;
    KILN_TRY_ASSIGN(LayerRecord l, ReadLayer(q));
    out.push_back(std::move(l));
  }
}

Result<void> Store::PutCacheEntry(std::string_view key, std::string_view result,
                                  const std::vector<Ref>& refs) {
  KILN_TRY(CheckBlobsExist(refs));
  int64_t now = Now();
  std::lock_guard<std::mutex> lock(db_mu_);
  KILN_TRY_ASSIGN(Tx tx, Tx::Begin(*db_));
  KILN_TRY_ASSIGN(Stmt ins, db_->Prepare(
      "INSERT OR REPLACE INTO cache(key, result, created, last_used) VALUES (?1, ?2, ?3, ?3)"));
  KILN_TRY(ins.Bind(1, key).Bind(2, result).Bind(3, now).Run());
  KILN_TRY(internal::ReplaceRefs(*db_, "cache", key, refs));
  return tx.Commit();
}

Result<CacheEntry> Store::GetCacheEntry(std::string_view key) {
  int64_t now = Now();
  std::lock_guard<std::mutex> lock(db_mu_);
  KILN_TRY_ASSIGN(Stmt q, db_->Prepare(
      "SELECT key, result, created, last_used FROM cache WHERE key = ?1"));
  KILN_TRY_ASSIGN(bool row, q.Bind(1, key).Step());
  if (!row) return Fail(Error::NotFound(fmt::format("cache entry \"{}\" not found", key)));
  CacheEntry entry{q.Text(0), q.Text(1), q.Int(2), q.Int(3)};
  // A hit is a read: last_used is written only when it is a minute old, so
  // a rebuild of cached steps does not cost one write transaction each.
  if (now - entry.last_used >= kLastUsedResolution) {
    KILN_TRY_ASSIGN(Stmt upd, db_->Prepare("UPDATE cache SET last_used = ?2 WHERE key = ?1"));
    KILN_TRY(upd.Bind(1, key).Bind(2, now).Run());
    entry.last_used = now;
  }
  return entry;
}

Result<void> Store::RemoveCacheEntry(std::string_view key) {
  std::lock_guard<std::mutex> lock(db_mu_);
  KILN_TRY_ASSIGN(Tx tx, Tx::Begin(*db_));
  KILN_TRY_ASSIGN(Stmt del, db_->Prepare("DELETE FROM cache WHERE key = ?1"));
  KILN_TRY(del.Bind(1, key).Run());
  if (db_->Changes() == 0)
    return Fail(Error::NotFound(fmt::format("cache entry \"{}\" not found", key)));
  KILN_TRY(internal::DeleteRefs(*db_, "cache", key));
  return tx.Commit();
}

Result<void> Store::AddLease(std::string_view name, LeaseLifetime lifetime,
                             const std::vector<Ref>& refs) {
  int64_t now = Now();
  std::lock_guard<std::mutex> lock(db_mu_);
  KILN_TRY_ASSIGN(Tx tx, Tx::Begin(*db_));
  KILN_TRY_ASSIGN(Stmt ins, db_->Prepare(
      "INSERT OR IGNORE INTO leases(name, session, created) VALUES (?1, ?2, ?3)"));
  ins.Bind(1, name).Bind(3, now);
  if (lifetime == LeaseLifetime::kSession) ins.Bind(2, session_);
  else ins.BindNull(2);
  KILN_TRY(ins.Run());
  for (const Ref& ref : refs) {
    KILN_TRY_ASSIGN(Stmt r, db_->Prepare("INSERT OR IGNORE INTO refs(owner_kind, owner, kind, target) "
                                         "VALUES ('lease', ?1, ?2, ?3)"));
    KILN_TRY(r.Bind(1, name).Bind(2, internal::RefKindName(ref.kind)).Bind(3, ref.target.str()).Run());
  }
  return tx.Commit();
}

Result<void> Store::RemoveLease(std::string_view name) {
  std::lock_guard<std::mutex> lock(db_mu_);
  KILN_TRY_ASSIGN(Tx tx, Tx::Begin(*db_));
  KILN_TRY_ASSIGN(Stmt del, db_->Prepare("DELETE FROM leases WHERE name = ?1"));
  KILN_TRY(del.Bind(1, name).Run());
  KILN_TRY(internal::DeleteRefs(*db_, "lease", name));
  return tx.Commit();
}

}  // namespace kiln::store
