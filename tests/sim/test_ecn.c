/* Simulated scenarios of the "ecn" group (see scenarios_ecn.c). */
#include "sim_test.h"

int main(void)
{
    return sim_test_main("ecn");
}
