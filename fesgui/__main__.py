from fesgui.cli import main

raise SystemExit(main())
