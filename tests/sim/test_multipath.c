/* Simulated scenarios of the "multipath" group (see scenarios_multipath.c). */
#include "sim_test.h"

int main(void)
{
    return sim_test_main("multipath");
}
