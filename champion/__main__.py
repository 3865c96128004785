from champion.cli import main

main()
