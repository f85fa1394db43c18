#pragma once

// JSON helpers shared by the image folder's .cc files (codec, layout,
// inspect). Never include from outside src/image/.

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "base/digest.h"
#include "base/error.h"
#include "image/oci.h"

namespace kiln::image::internal {

// Compact, sorted-key dump; invalid UTF-8 is replaced, never thrown.
std::string Dump(const nlohmann::json& j);
// Parses `text` (at most `limit` bytes); errors start with "`what`: ".
Result<nlohmann::json> ParseJson(std::string_view text, std::string_view what, size_t limit);
std::string TypeName(const nlohmann::json& j);
// "`path`: expected `want`, got <type of got>".
Error TypeError(const std::string& path, std::string_view want, const nlohmann::json& got);
// The member `key` of object `obj`, or nullptr if absent or null.
const nlohmann::json* Field(const nlohmann::json& obj, std::string_view key);
Result<void> ExpectObject(const nlohmann::json& j, const std::string& path);

// Readers for optional members of object `obj` at `path`; absent or null
// members leave `out` unchanged; wrong types give TypeError at path.key.
Result<void> ReadString(const nlohmann::json& obj, std::string_view key, const std::string& path,
                        std::string& out);
Result<void> ReadBool(const nlohmann::json& obj, std::string_view key, const std::string& path, bool& out);
Result<void> ReadInt64(const nlohmann::json& obj, std::string_view key, const std::string& path,
                       int64_t& out);
Result<void> ReadInt(const nlohmann::json& obj, std::string_view key, const std::string& path, int& out);
Result<void> ReadStringList(const nlohmann::json& obj, std::string_view key, const std::string& path,
                            std::vector<std::string>& out);
Result<void> ReadStringMap(const nlohmann::json& obj, std::string_view key, const std::string& path,
                           std::map<std::string, std::string>& out);
Result<void> ReadKeySet(const nlohmann::json& obj, std::string_view key, const std::string& path,
                        std::vector<std::string>& out);
Result<Digest> ParseDigestAt(const nlohmann::json& v, const std::string& path);

// The JSON objects the codec encodes, for embedding in other documents.
nlohmann::json ImageConfigJson(const ImageConfig& c);
nlohmann::json ContainerConfigToJson(const ContainerConfig& c);

}  // namespace kiln::image::internal
