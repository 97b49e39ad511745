# Adds or removes one folder on the current user's PATH, for the Cronium Desktop installer
# (resources/build/installer.nsh; shipped in resources\installer, off the PATH):
# `path-entry.ps1 add|remove <folder>`. It edits the registry value itself (HKCU\Environment\Path) so that entries such as %USERPROFILE%\bin
# keep their unexpanded form and the value keeps its REG_EXPAND_SZ type, which
# [Environment]::SetEnvironmentVariable would lose. The installer broadcasts the change.
param(
  [Parameter(Mandatory = $true)][ValidateSet('add', 'remove')][string]$Action,
  [Parameter(Mandatory = $true)][string]$Folder
)
$ErrorActionPreference = 'Stop'
$key = [Microsoft.Win32.Registry]::CurrentUser.CreateSubKey('Environment')
try {
  $current = [string]$key.GetValue('Path', '', [Microsoft.Win32.RegistryValueOptions]::DoNotExpandEnvironmentNames)
  $want = $Folder.TrimEnd('\')
  # Every entry but ours (compared without a trailing backslash, case-insensitively), empty ones dropped.
  $kept = @($current -split ';' | Where-Object { $_ -ne '' -and $_.TrimEnd('\') -ine $want })
  if ($Action -eq 'add') { $kept += $want }
  $next = $kept -join ';'
  if ($next -ne $current) {
    if ($next -eq '') { $key.DeleteValue('Path', $false) }
    else { $key.SetValue('Path', $next, [Microsoft.Win32.RegistryValueKind]::ExpandString) }
  }
} finally {
  $key.Close()
}
