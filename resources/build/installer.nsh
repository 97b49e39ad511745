; Cronium Desktop's additions to electron-builder's NSIS installer (electron-builder.yml: nsis.include):
; the `cronium` command. The install dir's resources\bin (cronium.cmd) goes on the user's PATH
; at install, and comes off it at uninstall (not on an update, which reinstalls at once).
; resources\installer\path-entry.ps1 edits the registry value; the broadcast tells Explorer,
; so terminals opened afterwards see the new PATH.
!include WinMessages.nsh

!macro croniumPathEntry ACTION
  Push $0
  nsExec::ExecToLog '"$SYSDIR\WindowsPowerShell\v1.0\powershell.exe" -NoProfile -NonInteractive -ExecutionPolicy Bypass -File "$INSTDIR\resources\installer\path-entry.ps1" ${ACTION} "$INSTDIR\resources\bin"'
  Pop $0
  ${if} $0 != 0
    DetailPrint "Could not ${ACTION} $INSTDIR\resources\bin on the user PATH (exit $0): add it by hand to use the cronium command."
  ${endIf}
  SendMessage ${HWND_BROADCAST} ${WM_SETTINGCHANGE} 0 "STR:Environment" /TIMEOUT=5000
  Pop $0
!macroend

!macro customInstall
  !insertmacro croniumPathEntry add
!macroend

!macro customUnInstall
  ${ifNot} ${isUpdated}
    !insertmacro croniumPathEntry remove
  ${endIf}
!macroend
