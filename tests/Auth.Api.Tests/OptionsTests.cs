using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Options;

namespace Trulayer.Auth.Tests;

public sealed class OptionsTests
{
    private static AuthOptions Valid() => new()
    {
        InternalKey = Convert.ToBase64String(new byte[32]),
        Session = new SessionOptions { Issuer = "https://clerk.example.com", Audience = "trulayer" },
    };

    private static string Failure(AuthOptions options)
    {
        var result = new AuthOptionsValidator().Validate(null, options);
        Assert.True(result.Failed);
        return result.FailureMessage;
    }

    [Fact]
    public void Validate_DefaultsWithIssuerAudienceAndKey_Succeed()
    {
        var options = Valid();

        Assert.True(new AuthOptionsValidator().Validate(null, options).Succeeded);
        Assert.Equal(new Uri("https://clerk.example.com/.well-known/jwks.json"), options.Session.ResolveJwksUrl());
        Assert.InRange(options.Session.ClockSkew, TimeSpan.Zero, TimeSpan.FromMinutes(5));
    }

    [Fact]
    public void Validate_Empty_NamesEveryMissingKey()
    {
        var message = Failure(new AuthOptions());

        Assert.Contains("Auth:InternalKey", message, StringComparison.Ordinal);
        Assert.Contains("Auth:Session:Issuer", message, StringComparison.Ordinal);
        Assert.Contains("Auth:Session:Audience", message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_ClockSkewOverFiveMinutes_Fails()
    {
        var options = Valid();
        options.Session.ClockSkew = TimeSpan.FromMinutes(10);

        Assert.Contains("Auth:Session:ClockSkew", Failure(options), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("00:00:00")]
    [InlineData("00:02:00")]
    public void Validate_AuditLockTimeoutOutOfRange_NamesIt(string value)
    {
        var options = Valid();
        options.Audit.LockTimeout = TimeSpan.Parse(value, System.Globalization.CultureInfo.InvariantCulture);

        Assert.Contains("Auth:Audit:LockTimeout", Failure(options), StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_IssuerNotAUrlWithoutJwksUrl_AsksForJwksUrl()
    {
        var options = Valid();
        options.Session.Issuer = "clerk";

        Assert.Contains("Auth:Session:JwksUrl", Failure(options), StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_DevIssuerOnWithoutKeys_NamesThem()
    {
        var options = Valid();
        options.DevIssuer.Enabled = true;

        var message = Failure(options);

        Assert.Contains("Auth:DevIssuer:SigningKey", message, StringComparison.Ordinal);
        Assert.Contains("Auth:DevIssuer:ApiKey", message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_DevIssuerSigningKeyNotP256_Fails()
    {
        var options = Valid();
        options.DevIssuer.Enabled = true;
        options.DevIssuer.ApiKey = ApiKeys.ApiKeySecret.Generate();
        using var rsa = System.Security.Cryptography.RSA.Create(2048);
        options.DevIssuer.SigningKey = Convert.ToBase64String(rsa.ExportPkcs8PrivateKey());

        Assert.Contains("not base64 of a PKCS#8 P-256", Failure(options), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Start_WithoutSessionSettings_FailsNamingTheKeys()
    {
        await using var factory = new Microsoft.AspNetCore.Mvc.Testing.WebApplicationFactory<AuthOptions>().WithWebHostBuilder(builder =>
        {
            builder.UseSetting("ConnectionStrings:trulayer", "Host=127.0.0.1;Port=1;Username=x;Password=y;Database=z");
            builder.UseSetting(TestIdentity.Configuration.Key, TestIdentity.Configuration.Value);
        });

        var error = Assert.Throws<OptionsValidationException>(() => factory.Server);

        Assert.Contains("Auth:Session:Issuer", error.Message, StringComparison.Ordinal);
    }
}
