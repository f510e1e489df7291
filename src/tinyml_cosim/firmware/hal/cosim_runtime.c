/* The one translation unit that instantiates cosim.h for the project's own firmware. */
#define COSIM_IMPLEMENTATION
#include "cosim.h"
