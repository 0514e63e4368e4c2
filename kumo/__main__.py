from kumo.cli import main

raise SystemExit(main())
