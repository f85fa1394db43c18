#include "dockerfile/dockerignore.h"
namespace kiln::dockerfile {}
