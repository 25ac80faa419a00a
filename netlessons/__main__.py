from netlessons.cli import main

main()
