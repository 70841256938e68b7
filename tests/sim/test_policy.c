/* Simulated scenarios of the "policy" group (see scenarios.c). */
#include "sim_test.h"

int main(void)
{
    return sim_test_main("policy");
}
