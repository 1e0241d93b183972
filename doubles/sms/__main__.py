from doubles.sms.server import main

main()
