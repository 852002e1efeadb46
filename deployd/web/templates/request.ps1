# deployd deploy helper for PowerShell: asks deployd to deploy and prints the log
# once the deploy has finished; exits 0 only when the deploy succeeded.
#   & ([scriptblock]::Create((Invoke-RestMethod "{{URL}}/pwsh"))) $env:DEPLOY_TOKEN
param (
    [string]$DeployToken = $env:DEPLOY_TOKEN
)

$url = "{{URL}}/v1/deploy?stream=false"

if (-not $DeployToken) {
    Write-Host -ForegroundColor Red "No deploy token given: pass it as the first argument or in DEPLOY_TOKEN."
    exit 2
}

Write-Host "Sending the deploy request to {{URL}}; the log follows when the deploy has finished."

try {
    $response = Invoke-WebRequest -Uri $url -Method Post -UseBasicParsing `
        -Headers @{ "X-Deploy-Token" = $DeployToken; "Accept" = "text/plain" } `
        -TimeoutSec {{TIMEOUT}}
} catch {
    $answer = $_.Exception.Response
    if (-not $answer) {
        Write-Host -ForegroundColor Red "The deploy request failed: $($_.Exception.Message)"
        exit 3
    }
    $body = $_.ErrorDetails.Message
    if (-not $body -and $PSVersionTable.PSVersion.Major -lt 6) {
        $reader = New-Object System.IO.StreamReader($answer.GetResponseStream())
        $body = $reader.ReadToEnd()
        $reader.Close()
    }
    if ($body) { Write-Host $body }
    Write-Host -ForegroundColor Red "The deploy failed or was refused (HTTP status $([int]$answer.StatusCode))."
    exit 1
}

Write-Host $response.Content
Write-Host -ForegroundColor Green "Deployment successful."
exit 0
