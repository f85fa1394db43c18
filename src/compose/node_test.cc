#include "compose/node.h"

#include <gtest/gtest.h>

namespace kiln::compose {
namespace {

TEST(NodeTest, Placeholder) { EXPECT_TRUE(ParseYaml("a.yaml", "a: 1").has_value()); }

}  // namespace
}  // namespace kiln::compose
