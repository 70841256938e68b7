/* Simulated scenarios of the "transfer" group (see scenarios.c). */
#include "sim_test.h"

int main(void)
{
    return sim_test_main("transfer");
}
