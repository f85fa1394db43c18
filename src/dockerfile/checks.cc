#include "dockerfile/checks.h"
namespace kiln::dockerfile {}
