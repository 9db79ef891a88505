from modelreg.cli import main

raise SystemExit(main())
