from doubles.wechat.server import main

main()
