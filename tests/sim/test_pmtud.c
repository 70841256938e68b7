/* Simulated scenarios of the "pmtud" group (see scenarios_pmtud.c). */
#include "sim_test.h"

int main(void)
{
    return sim_test_main("pmtud");
}
