/* child - the program the launcher example starts: says hello with its PID and argument. */
#include <stdio.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    printf("Hello from child %d %s\n", (int)getpid(), argc > 1 ? argv[1] : "");
    return 0;
}
