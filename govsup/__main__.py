from govsup.cli.main import main

main()
