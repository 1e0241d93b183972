from doubles.wecom.server import main

main()
