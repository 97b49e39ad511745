@echo off
rem The `cronium` command of Cronium Desktop on Windows: runs the CLI bundled with the app
rem under the app's own runtime (its exe with ELECTRON_RUN_AS_NODE=1). The installer puts
rem this folder (INSTALL_DIR\resources\bin) on the user PATH (resources\build\installer.nsh).
rem Layout: appLayout() in electron/main/cli-install.ts.
setlocal
set "ELECTRON_RUN_AS_NODE=1"
"%~dp0..\..\Cronium Desktop.exe" "%~dp0..\cli\cronium.cjs" %*
exit /b %ERRORLEVEL%
