/* Simulated scenarios of the "versions" group (see scenarios_versions.c). */
#include "sim_test.h"

int main(void)
{
    return sim_test_main("versions");
}
