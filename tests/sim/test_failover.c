/* Simulated scenarios of the "failover" group (see scenarios_failover.c). */
#include "sim_test.h"

int main(void)
{
    return sim_test_main("failover");
}
