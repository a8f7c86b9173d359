/* echoenv - the child program of the environ example: greets $USER. */
#include <stdio.h>
#include <stdlib.h>

int main(void)
{
    const char *user = getenv("USER");
    printf("Hello, %s\n", user ? user : "(USER is not set)");
    return 0;
}
