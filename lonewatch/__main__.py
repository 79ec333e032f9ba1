from lonewatch.cli import main

main()
