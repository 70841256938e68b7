/* Simulated scenarios of the "recovery" group (see scenarios_recovery.c). */
#include "sim_test.h"

int main(void)
{
    return sim_test_main("recovery");
}
